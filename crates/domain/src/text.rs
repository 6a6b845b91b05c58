//! Free text that people type and other people read: display names, product names and
//! descriptions.
//!
//! One rule set, with a length cap per type:
//! - surrounding whitespace is trimmed, then the text is put in Unicode NFC (UAX #15),
//!   so the same name typed on two keyboards is stored the same way;
//! - empty text is refused: an absent value is `Option::None`, not `""`;
//! - length is counted in Unicode scalar values, the unit MariaDB's `VARCHAR(n)` counts
//!   in `utf8mb4`, so a value that parses always fits its column;
//! - control characters (`Cc`) are refused, except line feed and tab in a
//!   [`Description`] (a `\r\n` there becomes `\n`), and so are the invisible
//!   formatting characters that let text pretend to be other text: bidirectional
//!   overrides and isolates (the "Trojan Source" characters, CVE-2021-42574),
//!   zero-width characters, the BOM, line and paragraph separators, and the
//!   non-characters U+FFFE/U+FFFF.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

use crate::ValidationError;

/// Longest [`DisplayName`], in characters (`users.display_name VARCHAR(100)`).
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;
/// Longest [`ProductName`], in characters (`products.name VARCHAR(200)`).
pub const MAX_PRODUCT_NAME_CHARS: usize = 200;
/// Longest [`Description`], in characters (well inside `products.description TEXT`,
/// 65,535 bytes, even at four bytes a character).
pub const MAX_DESCRIPTION_CHARS: usize = 2_000;

/// Why a string is not acceptable free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TextError {
    /// Nothing but whitespace.
    #[error("must not be empty")]
    Empty,
    /// More characters than the type allows.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The cap, in Unicode scalar values.
        max: usize,
    },
    /// A control character or an invisible formatting character.
    #[error("must not contain control characters or invisible formatting characters")]
    ForbiddenCharacter,
}

impl ValidationError for TextError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLong { .. } => "too_long",
            Self::ForbiddenCharacter => "forbidden_character",
        }
    }
}

/// Whether line breaks and tabs are part of the text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lines {
    Single,
    Multi,
}

/// Trims, normalises and checks `input` against the rules in the module docs.
fn parse_text(input: &str, max: usize, lines: Lines) -> Result<String, TextError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty);
    }
    // Refuse absurd input before normalising it: NFC at most triples the length
    // (UAX #15 §9), so anything over 3×max characters cannot come back under max.
    if trimmed.chars().count() > max.saturating_mul(3) {
        return Err(TextError::TooLong { max });
    }
    let normalised: String = if lines == Lines::Multi {
        trimmed.replace("\r\n", "\n").nfc().collect()
    } else {
        trimmed.nfc().collect()
    };
    if normalised.chars().any(|c| is_forbidden(c, lines)) {
        return Err(TextError::ForbiddenCharacter);
    }
    if normalised.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    Ok(normalised)
}

/// Controls (`Cc`) and the invisible characters listed in the module docs.
fn is_forbidden(c: char, lines: Lines) -> bool {
    if lines == Lines::Multi && matches!(c, '\n' | '\t') {
        return false;
    }
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'                  // soft hyphen
            | '\u{061C}'                // Arabic letter mark
            | '\u{180E}'                // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
            | '\u{2028}' | '\u{2029}'   // line and paragraph separators
            | '\u{202A}'..='\u{202E}'   // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}'   // word joiner, invisible operators
            | '\u{2066}'..='\u{206F}'   // bidi isolates, deprecated format controls
            | '\u{FEFF}'                // BOM / zero-width no-break space
            | '\u{FFF9}'..='\u{FFFB}'   // interlinear annotation
            | '\u{FFFE}' | '\u{FFFF}'   // non-characters
        )
}

/// Stamps out one free-text newtype with its parser, serde and `Display`.
macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $max:expr, $lines:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The most characters (Unicode scalar values) this type holds.
            pub const MAX_CHARS: usize = $max;

            /// Trims, NFC-normalises and checks `input` (see the [module docs](self)).
            pub fn parse(input: &str) -> Result<Self, TextError> {
                parse_text(input, $max, $lines).map(Self)
            }

            /// The text as stored.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = TextError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = TextError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_type!(
    /// A user's display name: one line, 1 to [`MAX_DISPLAY_NAME_CHARS`] characters.
    DisplayName,
    MAX_DISPLAY_NAME_CHARS,
    Lines::Single
);

text_type!(
    /// A product's name: one line, 1 to [`MAX_PRODUCT_NAME_CHARS`] characters.
    ProductName,
    MAX_PRODUCT_NAME_CHARS,
    Lines::Single
);

text_type!(
    /// A product's description: may span lines (`\n`, tabs), 1 to
    /// [`MAX_DESCRIPTION_CHARS`] characters.
    Description,
    MAX_DESCRIPTION_CHARS,
    Lines::Multi
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trims_and_normalises_to_nfc() -> Result<(), TextError> {
        // "é" typed as e + combining acute becomes the single precomposed character.
        let name = DisplayName::parse("  Rene\u{301}e \t")?;
        assert_eq!(name.as_str(), "Ren\u{e9}e");
        assert_eq!(
            ProductName::parse("Tea — Sencha 100 g")?.as_str(),
            "Tea — Sencha 100 g"
        );
        Ok(())
    }

    #[test]
    fn descriptions_keep_lines_and_tabs_and_drop_carriage_returns() -> Result<(), TextError> {
        let description = Description::parse("Line one\r\nLine two\n\tindented")?;
        assert_eq!(description.as_str(), "Line one\nLine two\n\tindented");
        Ok(())
    }

    #[test]
    fn rejects_bad_text_naming_the_rule() {
        let too_long_name = "x".repeat(MAX_DISPLAY_NAME_CHARS + 1);
        let too_long_product = "é".repeat(MAX_PRODUCT_NAME_CHARS + 1);
        let too_long_description = "ab\n".repeat(MAX_DESCRIPTION_CHARS);
        let decomposed = "e\u{301}".repeat(MAX_DISPLAY_NAME_CHARS + 1);
        let forbidden = TextError::ForbiddenCharacter;
        let cases: &[(Parser, &str, TextError, &str)] = &[
            (display, "", TextError::Empty, "empty"),
            (display, " \t\n ", TextError::Empty, "whitespace only"),
            (
                display,
                "\u{3000}",
                TextError::Empty,
                "ideographic space only",
            ),
            (
                display,
                &too_long_name,
                TextError::TooLong { max: 100 },
                "101 characters",
            ),
            (
                display,
                &decomposed,
                TextError::TooLong { max: 100 },
                "101 after NFC composes",
            ),
            (
                display,
                "Ada\nLovelace",
                forbidden,
                "newline in a one-line name",
            ),
            (
                display,
                "Ada\tLovelace",
                forbidden,
                "tab in a one-line name",
            ),
            (display, "Ada\u{0}", forbidden, "NUL"),
            (display, "Ada\u{1b}[31m", forbidden, "ANSI escape"),
            (display, "Ada\u{7f}", forbidden, "DEL"),
            (display, "A\u{85}da", forbidden, "C1 next-line inside"),
            (
                display,
                "admin\u{202E}nimda",
                forbidden,
                "right-to-left override",
            ),
            (display, "ad\u{200B}min", forbidden, "zero-width space"),
            (display, "ad\u{2066}min", forbidden, "left-to-right isolate"),
            (display, "\u{FEFF}admin", forbidden, "byte order mark"),
            (display, "ad\u{AD}min", forbidden, "soft hyphen"),
            (display, "ad\u{2028}min", forbidden, "line separator"),
            (
                product,
                &too_long_product,
                TextError::TooLong { max: 200 },
                "201 characters",
            ),
            (product, "Mu\rg", forbidden, "carriage return inside"),
            (
                description,
                &too_long_description,
                TextError::TooLong { max: 2000 },
                "6000 characters",
            ),
            (description, "one\rtwo", forbidden, "lone carriage return"),
            (description, "bell\u{7}", forbidden, "BEL"),
            (
                description,
                "x\u{202D}y",
                forbidden,
                "left-to-right override",
            ),
        ];
        for (parse, input, expected, reason) in cases {
            assert_eq!(parse(input), Err(*expected), "{reason}");
        }
    }

    type Parser = fn(&str) -> Result<(), TextError>;

    fn display(s: &str) -> Result<(), TextError> {
        DisplayName::parse(s).map(drop)
    }
    fn product(s: &str) -> Result<(), TextError> {
        ProductName::parse(s).map(drop)
    }
    fn description(s: &str) -> Result<(), TextError> {
        Description::parse(s).map(drop)
    }

    #[test]
    fn caps_are_inclusive() -> Result<(), TextError> {
        DisplayName::parse(&"ß".repeat(MAX_DISPLAY_NAME_CHARS))?;
        ProductName::parse(&"x".repeat(MAX_PRODUCT_NAME_CHARS))?;
        Description::parse(&"x".repeat(MAX_DESCRIPTION_CHARS))?;
        Ok(())
    }

    #[test]
    fn serde_goes_through_the_parser() -> Result<(), serde_json::Error> {
        let name: ProductName = serde_json::from_str(r#"" Green tea ""#)?;
        assert_eq!(serde_json::to_string(&name)?, r#""Green tea""#);
        assert!(serde_json::from_str::<ProductName>(r#""""#).is_err());
        Ok(())
    }

    proptest! {
        #[test]
        fn parsers_never_panic(input in any::<String>()) {
            let _ = DisplayName::parse(&input);
            let _ = ProductName::parse(&input);
            let _ = Description::parse(&input);
        }

        #[test]
        fn display_round_trips(input in any::<String>()) {
            if let Ok(name) = DisplayName::parse(&input) {
                let shown = name.to_string();
                prop_assert_eq!(DisplayName::parse(&shown), Ok(name.clone()));
                prop_assert!(name.as_str().chars().count() <= MAX_DISPLAY_NAME_CHARS);
            }
            if let Ok(description) = Description::parse(&input) {
                let shown = description.to_string();
                prop_assert_eq!(Description::parse(&shown), Ok(description.clone()));
            }
        }

        #[test]
        fn printable_text_is_accepted(input in "[\\p{L}\\p{N}][\\p{L}\\p{N}\\p{P} ]{0,60}[\\p{L}\\p{N}]") {
            let parsed = DisplayName::parse(&input);
            prop_assert!(parsed.is_ok(), "{input:?}: {parsed:?}");
        }
    }
}
