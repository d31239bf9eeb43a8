//! Subject identifiers (RFC 9493) as receivers name the people events are about.

use serde_json::{Value, json};

/// Why a subject identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubjectError {
    /// Not a JSON object with a string `format` (RFC 9493 §3).
    #[error("a subject identifier is an object with a string `format` (RFC 9493 §3)")]
    Malformed,
    /// A format dinhdanh does not name people by.
    #[error("subject format `{0}` is not supported: use `iss_sub`")]
    UnsupportedFormat(String),
    /// An `iss_sub` subject of another issuer.
    #[error("the subject's `iss` is not this transmitter")]
    OtherIssuer,
}

/// A subject identifier (RFC 9493 §3). People are named by the pairwise subject the receiver
/// received when they signed in (`iss_sub`); streams by their id (`opaque`, SSF §8.1.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectId {
    /// RFC 9493 §3.2.4: an issuer and a subject of that issuer.
    IssSub {
        /// The issuer (this transmitter).
        iss: String,
        /// The pairwise subject.
        sub: String,
    },
    /// RFC 9493 §3.2.6: an opaque identifier.
    Opaque {
        /// The identifier.
        id: String,
    },
    /// RFC 9493 §3.2.7: a telephone number, in E.164 form.
    PhoneNumber {
        /// The number, `+84…`.
        phone_number: String,
    },
}

impl SubjectId {
    /// Reads a subject naming a person, as a receiver sends it to add or remove a subject:
    /// only `iss_sub` of this `issuer` names a person here.
    pub fn parse_person(value: &Value, issuer: &str) -> Result<String, SubjectError> {
        let object = value.as_object().ok_or(SubjectError::Malformed)?;
        let format = object
            .get("format")
            .and_then(Value::as_str)
            .ok_or(SubjectError::Malformed)?;
        if format != "iss_sub" {
            return Err(SubjectError::UnsupportedFormat(
                format.chars().take(40).collect(),
            ));
        }
        let member = |name: &str| {
            object
                .get(name)
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty() && text.len() <= 255)
                .ok_or(SubjectError::Malformed)
        };
        let (iss, sub) = (member("iss")?, member("sub")?);
        if object.len() != 3 {
            return Err(SubjectError::Malformed);
        }
        if iss != issuer {
            return Err(SubjectError::OtherIssuer);
        }
        Ok(sub.to_owned())
    }

    /// The identifier as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            SubjectId::IssSub { iss, sub } => json!({"format": "iss_sub", "iss": iss, "sub": sub}),
            SubjectId::Opaque { id } => json!({"format": "opaque", "id": id}),
            SubjectId::PhoneNumber { phone_number } => {
                json!({"format": "phone_number", "phone_number": phone_number})
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://id.example";

    #[test]
    fn only_this_issuers_iss_sub_names_a_person() {
        let ok = json!({"format": "iss_sub", "iss": ISSUER, "sub": "abc"});
        assert_eq!(SubjectId::parse_person(&ok, ISSUER).unwrap(), "abc");
        let other = json!({"format": "iss_sub", "iss": "https://other", "sub": "abc"});
        assert_eq!(
            SubjectId::parse_person(&other, ISSUER),
            Err(SubjectError::OtherIssuer)
        );
        let email = json!({"format": "email", "email": "a@b.example"});
        assert!(matches!(
            SubjectId::parse_person(&email, ISSUER),
            Err(SubjectError::UnsupportedFormat(_))
        ));
        for bad in [
            json!("abc"),
            json!({"iss": ISSUER, "sub": "abc"}),
            json!({"format": "iss_sub", "iss": ISSUER}),
            json!({"format": "iss_sub", "iss": ISSUER, "sub": ""}),
            json!({"format": "iss_sub", "iss": ISSUER, "sub": "a", "extra": 1}),
        ] {
            assert_eq!(
                SubjectId::parse_person(&bad, ISSUER),
                Err(SubjectError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn subjects_serialise_as_rfc_9493_says() {
        let subject = SubjectId::IssSub {
            iss: ISSUER.into(),
            sub: "abc".into(),
        };
        assert_eq!(
            subject.to_json(),
            json!({"format": "iss_sub", "iss": ISSUER, "sub": "abc"})
        );
        assert_eq!(
            SubjectId::Opaque { id: "s1".into() }.to_json(),
            json!({"format": "opaque", "id": "s1"})
        );
        assert_eq!(
            SubjectId::PhoneNumber {
                phone_number: "+84912345678".into()
            }
            .to_json(),
            json!({"format": "phone_number", "phone_number": "+84912345678"})
        );
    }
}
