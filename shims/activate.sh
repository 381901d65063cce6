# jig shell activation (bash, zsh, sh): put jig's shim directory first on PATH.
# Add to ~/.bashrc or ~/.zshrc:  eval "$(jig activate bash)"
case ":${PATH}:" in
  *:@SHIMS@:*) ;;
  *) export PATH=@SHIMS@"${PATH:+:${PATH}}" ;;
esac
