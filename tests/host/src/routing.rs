//! Route matching as Spin does it. Spin: `crates/routes/src/lib.rs` — patterns go to the
//! `routefinder` crate (`/...` becomes `/*`), which picks the best match: exact routes
//! before `:param` routes before wildcards, longest first.

use anyhow::{Result, anyhow};

#[derive(Debug, Clone)]
struct RouteEntry {
    index: usize,
    raw_route: String,
    wildcard: bool,
}

/// The app's route table.
#[derive(Debug)]
pub struct Router {
    inner: routefinder::Router<RouteEntry>,
}

/// A matched route.
#[derive(Debug, Clone)]
pub struct RouteMatch {
    /// Trigger index.
    pub index: usize,
    /// The route as written (`/hello/...`).
    pub raw_route: String,
    /// `:name` captures.
    pub params: Vec<(String, String)>,
    /// `spin-path-info`: the part matched by a trailing wildcard.
    pub path_info: String,
}

impl RouteMatch {
    /// `spin-component-route`: the raw route without its `/...` suffix.
    pub fn component_route(&self) -> &str {
        self.raw_route
            .strip_suffix("/...")
            .unwrap_or(&self.raw_route)
    }
}

impl Router {
    /// Builds the table from `(pattern, trigger index, component id)`. A later duplicate
    /// replaces an earlier one, as in Spin.
    pub fn build(routes: &[(String, usize, String)]) -> Result<Self> {
        let mut dedup: indexmap_like::OrderedMap = indexmap_like::OrderedMap::default();
        for (pattern, index, _component) in routes {
            dedup.insert(pattern.clone(), *index);
        }
        let mut inner = routefinder::Router::new();
        for (pattern, index) in dedup.into_iter() {
            let (spec, wildcard) = if let Some(prefix) = pattern.strip_suffix("/...") {
                (format!("{prefix}/*"), true)
            } else {
                (pattern.clone(), pattern.ends_with("/*"))
            };
            inner
                .add(
                    spec.as_str(),
                    RouteEntry {
                        index,
                        raw_route: pattern.clone(),
                        wildcard,
                    },
                )
                .map_err(|e| anyhow!("Error parsing route {pattern}: {e}"))?;
        }
        Ok(Self { inner })
    }

    /// Finds the trigger for a path, or `None` (Spin answers 404 with an empty body).
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let m = self.inner.best_match(path)?;
        let entry = m.handler();
        let captures = m.captures();
        let params: Vec<(String, String)> = captures
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let path_info = if entry.wildcard {
            match captures.wildcard() {
                Some(s) => match (s.is_empty(), path.ends_with('/')) {
                    (true, false) => s.to_string(),
                    (true, true) => "/".to_string(),
                    (false, false) => format!("/{s}"),
                    (false, true) => format!("/{s}/"),
                },
                None => String::new(),
            }
        } else {
            String::new()
        };
        Some(RouteMatch {
            index: entry.index,
            raw_route: entry.raw_route.clone(),
            params,
            path_info,
        })
    }

    /// `(route, trigger index)` pairs, for the start-up listing.
    pub fn routes(&self) -> Vec<(String, usize)> {
        let mut v: Vec<_> = self
            .inner
            .iter()
            .map(|(_, e)| (e.raw_route.clone(), e.index))
            .collect();
        v.sort();
        v
    }
}

mod indexmap_like {
    /// Insertion-ordered map where re-inserting a key replaces the value in place.
    #[derive(Default)]
    pub struct OrderedMap {
        keys: Vec<String>,
        values: std::collections::HashMap<String, usize>,
    }

    impl OrderedMap {
        pub fn insert(&mut self, key: String, value: usize) {
            if self.values.insert(key.clone(), value).is_none() {
                self.keys.push(key);
            }
        }

        pub fn into_iter(self) -> impl Iterator<Item = (String, usize)> {
            let mut values = self.values;
            self.keys
                .into_iter()
                .filter_map(move |k| values.remove(&k).map(|v| (k, v)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Result<Router> {
        Router::build(&[
            ("/api/v1/users/...".into(), 0, "users".into()),
            ("/api/v1/users/:id/orders".into(), 1, "orders".into()),
            ("/api/v1/users/:id/orders/...".into(), 2, "orders".into()),
            ("/exact".into(), 3, "x".into()),
            ("/hello/...".into(), 4, "h".into()),
            ("/plain/:id".into(), 5, "p".into()),
        ])
    }

    /// Precedence observed on Spin 4.1 (`docs/spin-fidelity.md`, "Requests and routing").
    #[test]
    fn precedence_matches_spin() -> Result<()> {
        let r = router()?;
        let idx = |p: &str| r.route(p).map(|m| m.index);
        assert_eq!(idx("/api/v1/users/5/orders"), Some(1));
        assert_eq!(idx("/api/v1/users/5/orders/9"), Some(2));
        assert_eq!(idx("/api/v1/users/5"), Some(0));
        assert_eq!(idx("/api/v1/users"), Some(0));
        assert_eq!(idx("/api/v1/users/"), Some(0));
        assert_eq!(idx("/exact"), Some(3));
        assert_eq!(idx("/exact/"), Some(3));
        assert_eq!(idx("/exact/x"), None);
        assert_eq!(idx("/nothing"), None);
        Ok(())
    }

    #[test]
    fn path_info_and_params_match_spin() -> Result<()> {
        let r = router()?;
        let m = r.route("/hello/abc").ok_or_else(|| anyhow!("no match"))?;
        assert_eq!(m.path_info, "/abc");
        assert_eq!(m.component_route(), "/hello");
        let m = r.route("/plain/42").ok_or_else(|| anyhow!("no match"))?;
        assert_eq!(m.path_info, "");
        assert_eq!(m.params, vec![("id".to_string(), "42".to_string())]);
        Ok(())
    }
}
