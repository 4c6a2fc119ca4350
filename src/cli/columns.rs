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
    /// Multi-label CSV/TSV: the separator between a row's labels in the label cell (`+`, `|`,
    /// `;`); an empty cell is a row with no label. JSONL rows with a label array need no flag.
    #[arg(long, value_name = "SEP")]
    pub label_separator: Option<String>,
}

impl Columns {
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            text_column: self.text_column.clone(),
            label_column: self.label_column.clone(),
            label_separator: self.label_separator.clone(),
            separator_may_be_absent: false,
        }
    }
}
