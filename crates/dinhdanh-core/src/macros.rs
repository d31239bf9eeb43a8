//! Macros that give domain types their textual wire form.
//!
//! Owns the one rule shared by every textual domain type: it serialises as its `Display`
//! string and deserialises only through its `FromStr` parser, so deserialisation can never
//! produce a value that parsing would have refused. The error text is the parser's, which
//! never repeats the input.

/// Implements `Serialize` (via `Display`) and `Deserialize` (via `FromStr`) for `$ty`.
///
/// `$expecting` completes the sentence "invalid type: …, expected …".
macro_rules! serde_via_str {
    ($ty:ty, $expecting:literal) => {
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                struct Visitor;

                impl ::serde::de::Visitor<'_> for Visitor {
                    type Value = $ty;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_str<E: ::serde::de::Error>(self, value: &str) -> Result<$ty, E> {
                        value.parse().map_err(E::custom)
                    }
                }

                deserializer.deserialize_str(Visitor)
            }
        }
    };
}

/// Gives a fieldless enum its wire vocabulary: `ALL`, `as_str`, `FromStr`, `Display` and serde.
///
/// Parsing is exact (no trimming, no case folding): these strings are protocol values, not
/// user input.
macro_rules! str_enum {
    ($ty:ty, $error:expr, $expecting:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The wire form of the value, as serialised.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::IdentifierError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    _ => Err($error),
                }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        serde_via_str!($ty, $expecting);
    };
}
