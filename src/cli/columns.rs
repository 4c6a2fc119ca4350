//! The column flags of every command that reads a labelled file.

use clap::Args;

use attune::data::LoadOptions;

#[derive(Debug, Clone, Default, Args)]
pub struct Columns {
    /// The text column; found by name (text, query, sentence) when left out.
    #[arg(long)]
    pub text_column: Option<String>,
    /// The label column; found by name (label, intent, category) when left out.
    #[arg(long)]
    pub label_column: Option<String>,
}

impl Columns {
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            text_column: self.text_column.clone(),
            label_column: self.label_column.clone(),
        }
    }
}
