//! Bar charts for the terminal: one row per label, bars drawn in Unicode
//! blocks to an eighth of a character.

use super::table::{pad, width};

/// Eighths of a block, from one to eight.
const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];

/// One line per `(label, count)`: the label, a bar scaled so that the
/// largest count fills what `columns` leaves, and the count.
pub fn bars(rows: &[(String, u64)], columns: usize) -> String {
    let label_width = rows
        .iter()
        .map(|(label, _)| width(label))
        .max()
        .unwrap_or(0);
    let count_width = rows
        .iter()
        .map(|(_, count)| count.to_string().len())
        .max()
        .unwrap_or(1);
    let most = rows
        .iter()
        .map(|(_, count)| *count)
        .max()
        .unwrap_or(0)
        .max(1);
    let room = columns
        .saturating_sub(label_width + count_width + 4)
        .max(10);
    let mut out = String::new();
    for (label, count) in rows {
        out.push_str(label);
        pad(&mut out, label_width - width(label) + 2);
        // In eighths of a column; a count above zero shows at least a sliver.
        let eighths = (u128::from(*count) * room as u128 * 8 / u128::from(most)) as usize;
        let eighths = if *count > 0 { eighths.max(1) } else { 0 };
        let bar: String = std::iter::repeat_n('█', eighths / 8)
            .chain((eighths % 8 > 0).then(|| EIGHTHS[eighths % 8 - 1]))
            .collect();
        let drawn = width(&bar);
        out.push_str(&bar);
        pad(&mut out, room - drawn + 1);
        out.push_str(&format!("{count:>count_width$}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_count_fills_the_room_and_others_scale() {
        let rows = vec![
            ("2024-05-01".to_string(), 80),
            ("2024-05-02".to_string(), 10),
            ("2024-05-03".to_string(), 0),
            ("2024-05-04".to_string(), 1),
        ];
        let text = bars(&rows, 10 + 2 + 4 + 16);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("2024-05-01  {} 80", "█".repeat(16)));
        assert_eq!(lines[1], format!("2024-05-02  ██{}10", " ".repeat(15)));
        assert_eq!(lines[2], format!("2024-05-03  {} 0", " ".repeat(17)));
        assert_eq!(lines[3], format!("2024-05-04  ▏{} 1", " ".repeat(16)));
        assert!(lines.iter().all(|l| width(l) == width(lines[0])));
    }
}
