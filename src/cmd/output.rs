//! Output choices shared by commands.

use std::io::IsTerminal;

use clap::ValueEnum;

/// Text for people, JSON for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextOrJson {
    Text,
    Json,
}

impl TextOrJson {
    /// The format asked for, else text on a terminal and JSON in a pipe.
    pub fn or_by_terminal(format: Option<Self>) -> Self {
        format.unwrap_or(if std::io::stdout().is_terminal() {
            Self::Text
        } else {
            Self::Json
        })
    }
}
