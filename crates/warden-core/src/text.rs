//! Text from outside (alert labels and annotations, log lines, error messages of other
//! systems) made safe for where it is shown: on a terminal, a control character could set the
//! window title (`ESC ] 0 ;`), move the cursor or forge whole output lines (`CR`, `LF`), so
//! every control character is shown as an escape instead of being sent.

/// `text` with every control character (C0, DEL and C1, line breaks included) written as a
/// visible escape (`\n`, `\r`, `\t`, `\x1b`, `\u{9b}`), for one line of terminal output.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut safe = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => safe.push_str("\\n"),
            '\r' => safe.push_str("\\r"),
            '\t' => safe.push_str("\\t"),
            c if c.is_control() && (c as u32) < 0x80 => {
                safe.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => safe.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => safe.push(c),
        }
    }
    std::borrow::Cow::Owned(safe)
}

/// Like [`terminal_safe`] but keeps line breaks (`\n`), for multi-line blocks such as a log
/// excerpt; a `\r` is still escaped, so no line can be overwritten.
pub fn terminal_safe_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| terminal_safe(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        let hostile = "svc\u{1b}]0;owned\u{7}\r\nINC-9 resolved\u{0}\u{9b}31m";
        let safe = terminal_safe(hostile);
        assert_eq!(
            safe,
            "svc\\x1b]0;owned\\x07\\r\\nINC-9 resolved\\x00\\u{9b}31m"
        );
        assert!(!safe.chars().any(char::is_control));
        assert_eq!(terminal_safe("plain text ü"), "plain text ü");
        assert_eq!(terminal_safe_lines("a\r\nb"), "a\\r\nb");
    }
}
