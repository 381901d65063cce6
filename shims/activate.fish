# jig shell activation (fish): put jig's shim directory first on PATH.
# Add to ~/.config/fish/config.fish:  jig activate fish | source
if not contains -- @SHIMS@ $PATH
    set -gx PATH @SHIMS@ $PATH
end
