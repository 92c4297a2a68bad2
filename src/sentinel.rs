//! "Is a reboot required?": a file's existence, or a command's exit code.
