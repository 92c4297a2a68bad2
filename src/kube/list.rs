//! Paginated lists. Only an empty `continue` token ends a list (the server may
//! answer a short or even empty page with more to come); a 410 Gone means the
//! token expired and the list must start again, as client-go's pager does.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{ApiErrorKind, Error, Result};

/// How many times an expired continue token may restart one list.
pub const MAX_RESTARTS: u32 = 3;
/// Guards against a server that hands out continue tokens forever.
pub const MAX_PAGES: u32 = 10_000;

#[derive(Debug, Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub struct Page<T> {
    #[serde(default)]
    pub items: Vec<T>,
    #[serde(default)]
    pub metadata: ListMeta,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListMeta {
    #[serde(default, rename = "continue")]
    pub continue_token: Option<String>,
}

/// Collect every item, fetching pages with `fetch(continue_token)`.
pub fn collect<T>(mut fetch: impl FnMut(Option<&str>) -> Result<Page<T>>) -> Result<Vec<T>> {
    let mut restarts = 0;
    'list: loop {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            match fetch(token.as_deref()) {
                Ok(page) => {
                    items.extend(page.items);
                    match page.metadata.continue_token.filter(|t| !t.is_empty()) {
                        Some(t) => token = Some(t),
                        None => return Ok(items),
                    }
                }
                Err(e) if token.is_some() && e.api_kind() == Some(ApiErrorKind::Gone) && restarts < MAX_RESTARTS => {
                    restarts += 1;
                    log::info!("list continue token expired ({e}), restarting the list");
                    continue 'list;
                }
                Err(e) => return Err(e),
            }
        }
        return Err(Error::Decode {
            what: "list".into(),
            message: format!("still paginating after {MAX_PAGES} pages"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiErrorKind;

    fn page(items: &[u32], token: &str) -> Result<Page<u32>> {
        let continue_token = (!token.is_empty()).then(|| token.to_string());
        Ok(Page { items: items.to_vec(), metadata: ListMeta { continue_token } })
    }

    fn gone() -> Result<Page<u32>> {
        Err(crate::kube::status::api_error(
            "GET",
            "/api/v1/pods",
            410,
            b"{\"kind\":\"Status\",\"reason\":\"Expired\"}",
            None,
        ))
    }

    /// Serve `answers` in order, recording the continue tokens asked for.
    #[track_caller]
    fn run(answers: Vec<Result<Page<u32>>>, want: std::result::Result<Vec<u32>, ApiErrorKind>, want_tokens: &[&str]) {
        let mut answers = answers.into_iter();
        let mut asked = Vec::new();
        let got = collect(|t| {
            asked.push(t.unwrap_or("").to_string());
            answers.next().expect("asked for more pages than scripted")
        });
        assert_eq!(got.map_err(|e| e.api_kind().unwrap()), want);
        assert_eq!(asked, want_tokens);
    }

    #[test]
    fn pagination() {
        run(vec![page(&[1, 2], "")], Ok(vec![1, 2]), &[""]);
        run(vec![page(&[], "")], Ok(vec![]), &[""]);
        run(vec![page(&[1], "a"), page(&[], "b"), page(&[2], "")], Ok(vec![1, 2]), &["", "a", "b"]);
        run(vec![page(&[1], "a"), gone(), page(&[1], "a"), page(&[2], "")], Ok(vec![1, 2]), &["", "a", "", "a"]);
        run(
            vec![page(&[1], "a"), gone(), page(&[1], "a"), gone(), page(&[1], "a"), gone(), page(&[1], "a"), gone()],
            Err(ApiErrorKind::Gone),
            &["", "a", "", "a", "", "a", "", "a"],
        );
        run(vec![gone()], Err(ApiErrorKind::Gone), &[""]);
    }
}
