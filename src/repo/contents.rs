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

/// One image of a dex repository: `dex-images/NAME/` and its Dockerfiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DexImage {
    /// The directory's name: the recipe's.
    pub name: String,
    /// The git tree id of `dex-images/NAME` at the pin (the build context).
    pub tree: String,
    /// `Dockerfile` and `Dockerfile-TAG` files: (file name, text), by name.
    pub dockerfiles: Vec<(String, String)>,
}

/// The recipe files of a repository at its pin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contents {
    /// Readable `recipes/*.toml` files, by name.
    pub files: Vec<RecipeFile>,
    /// The images of a dex layout (`dex-images/NAME/Dockerfile[-TAG]`), by name.
    pub dex: Vec<DexImage>,
    /// Files not taken (symlinks, bad names, ...), with the reason.
    pub refused: Vec<(String, String)>,
}
