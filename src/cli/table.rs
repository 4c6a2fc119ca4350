//! Metric tables for the terminal.

use attune::eval::Metrics;

/// Prints the headline metrics; with `after`, baseline and fine-tuned side by side.
pub fn print_metrics_table(before: &Metrics, after: Option<&Metrics>) {
    print_metrics_columns(before, after, ("baseline", "fine-tuned"))
}

/// As [`print_metrics_table`], the two columns headed `heads`.
pub fn print_metrics_columns(before: &Metrics, after: Option<&Metrics>, heads: (&str, &str)) {
    type Row = (&'static str, fn(&Metrics) -> f64);
    let multi_rows: [Row; 11] = [
        ("Hamming score", |m| m.accuracy),
        ("Subset accuracy", |m| {
            m.multi_label.as_ref().map_or(0.0, |f| f.subset_accuracy)
        }),
        ("F1 (micro)", |m| m.multi_label.as_ref().map_or(0.0, |f| f.f1_micro)),
        ("Precision (micro)", |m| {
            m.multi_label.as_ref().map_or(0.0, |f| f.precision_micro)
        }),
        ("Recall (micro)", |m| {
            m.multi_label.as_ref().map_or(0.0, |f| f.recall_micro)
        }),
        ("F1 (macro)", |m| m.f1_macro),
        ("Precision (macro)", |m| m.precision_macro),
        ("Recall (macro)", |m| m.recall_macro),
        ("Loss (binary CE)", |m| m.loss),
        ("Cardinality error", |m| {
            m.multi_label.as_ref().map_or(0.0, |f| f.cardinality_error)
        }),
        ("Silhouette (cosine)", |m| m.silhouette),
    ];
    let single_rows: [Row; 9] = [
        ("Accuracy", |m| m.accuracy),
        ("Loss (cross-entropy)", |m| m.loss),
        ("F1 (macro)", |m| m.f1_macro),
        ("Precision (macro)", |m| m.precision_macro),
        ("Recall (macro)", |m| m.recall_macro),
        ("F1 (weighted)", |m| m.f1_weighted),
        ("Precision (weighted)", |m| m.precision_weighted),
        ("Recall (weighted)", |m| m.recall_weighted),
        ("Silhouette (cosine)", |m| m.silhouette),
    ];
    let rows: &[Row] = if before.multi_label.is_some() {
        &multi_rows
    } else {
        &single_rows
    };
    match after {
        Some(a) => {
            println!("{:<22} {:>10} {:>11} {:>9}", "metric", heads.0, heads.1, "change");
            for (name, f) in rows.iter() {
                println!(
                    "{:<22} {:>10.4} {:>11.4} {:>+9.4}",
                    name,
                    f(before),
                    f(a),
                    f(a) - f(before)
                );
            }
        }
        None => {
            for (name, f) in rows.iter() {
                println!("{:<22} {:>10.4}", name, f(before));
            }
        }
    }
    let m = after.unwrap_or(before);
    let width = m
        .per_label
        .keys()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 40);
    println!("\nPer label{}:", if after.is_some() { " (fine-tuned)" } else { "" });
    println!(
        "  {:<width$} {:>9} {:>7} {:>7} {:>8}",
        "label", "precision", "recall", "f1", "support"
    );
    for (l, v) in &m.per_label {
        println!(
            "  {:<width$} {:>9.4} {:>7.4} {:>7.4} {:>8}",
            l, v.precision, v.recall, v.f1, v.support
        );
    }
    if m.confusion.matrix.is_empty() {
        return;
    }
    println!("\nConfusion (rows: true label, columns: predicted, in the order above):");
    let labels = &m.confusion.labels;
    let cell = m
        .confusion
        .matrix
        .iter()
        .flatten()
        .map(|v| v.to_string().len())
        .max()
        .unwrap_or(1)
        .max(3);
    for (i, row) in m.confusion.matrix.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:>cell$}")).collect();
        println!("  {:<width$} {}", labels[i], cells.join(" "));
    }
}
