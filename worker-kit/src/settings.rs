//! A Worker's settings. Wrangler `[vars]` and secrets are one namespace at run time (a name is
//! either, never both): both Workers read them here, the same way, trimmed, empty as unset.
//! The reader takes any lookup, so a Worker's configuration is tested natively from a map.

use worker::Env;

/// Where settings come from: a name in, its value out.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

pub struct Settings<'a> {
    lookup: Lookup<'a>,
}

impl<'a> Settings<'a> {
    /// The Worker's vars and secrets.
    pub fn of_env(env: &'a Env) -> Self {
        Settings::from_fn(move |name| env.var(name).ok().map(|v| v.to_string()))
    }

    /// Settings from `lookup` (a test's map).
    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Settings {
            lookup: Box::new(lookup),
        }
    }

    /// The setting `name`, trimmed; `None` when unset or empty.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// The setting `name`, or the message that it is missing.
    pub fn required(&self, name: &str) -> Result<String, String> {
        self.optional(name)
            .ok_or_else(|| format!("{name} is not set"))
    }

    /// A whole number, or `default` when unset.
    pub fn number(&self, name: &str, default: i64) -> Result<i64, String> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("{name} must be a whole number")),
        }
    }

    /// A comma-separated list, empty entries dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.optional(name)
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().to_string())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::Settings;

    fn of(pairs: &'static [(&'static str, &'static str)]) -> Settings<'static> {
        Settings::from_fn(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn empty_is_unset_and_values_are_trimmed() {
        let s = of(&[("A", "  x "), ("EMPTY", "  "), ("N", "12"), ("BAD", "1.5")]);
        assert_eq!(s.optional("A").as_deref(), Some("x"));
        assert_eq!(s.optional("EMPTY"), None);
        assert_eq!(s.required("EMPTY").unwrap_err(), "EMPTY is not set");
        assert_eq!(s.number("N", 3), Ok(12));
        assert_eq!(s.number("MISSING", 3), Ok(3));
        assert!(s.number("BAD", 3).is_err());
    }

    #[test]
    fn lists_drop_empty_entries_and_spaces() {
        let s = of(&[("L", " a, ,b,, c "), ("E", " , ")]);
        assert_eq!(s.list("L"), ["a", "b", "c"]);
        assert!(s.list("E").is_empty());
        assert!(s.list("MISSING").is_empty());
    }
}
