//! Whole numbers from JSON as JSON Schema counts them: `38` and `38.0` are
//! both the integer 38 (`38.5` is not). Clients that compute numbers in
//! floating point (JavaScript, Python's json for some libraries) send the
//! latter, and the API description promises integers, not a spelling.
use serde::{Deserialize, Deserializer};

/// An integer that may arrive written as `38.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Integral(pub i64);

impl<'de> Deserialize<'de> for Integral {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Integral, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Num {
            Int(i64),
            Float(f64),
        }
        match Num::deserialize(d)? {
            Num::Int(i) => Ok(Integral(i)),
            Num::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Integral(f as i64)),
            Num::Float(f) => Err(serde::de::Error::custom(format!("expected a whole number, got {f}"))),
        }
    }
}

/// For `#[serde(deserialize_with = "integral::option")]` on an `Option<i64>`.
pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<Integral>::deserialize(d)?.map(|i| i.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_in_either_spelling() {
        assert_eq!(serde_json::from_str::<Integral>("38").unwrap(), Integral(38));
        assert_eq!(serde_json::from_str::<Integral>("38.0").unwrap(), Integral(38));
        assert_eq!(serde_json::from_str::<Integral>("-3.0").unwrap(), Integral(-3));
        assert!(serde_json::from_str::<Integral>("38.5").is_err());
        assert!(serde_json::from_str::<Integral>("\"38\"").is_err());
        assert!(serde_json::from_str::<Integral>("1e300").is_err());
    }
}
