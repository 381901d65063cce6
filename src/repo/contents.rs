//! What a recipe repository holds at its pin: its recipe files, and what was not
//! taken.

/// One recipe file of a repository at its pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipeFile {
    /// File name without `.toml`: the recipe's name.
    pub stem: String,
    /// Path inside the repository (`recipes/NAME.toml`).
    pub path: String,
    /// The file's text.
    pub text: String,
}

/// The recipe files of a repository at its pin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contents {
    /// Readable `recipes/*.toml` files, by name.
    pub files: Vec<RecipeFile>,
    /// Files not taken (symlinks, bad names, ...), with the reason.
    pub refused: Vec<(String, String)>,
}
