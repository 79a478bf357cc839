//! URLs read and built with the runtime's own WHATWG parser (the JavaScript `URL`), not the
//! `url` crate: the same standard and the same answers, and about 20 KB gzip less in a bundle
//! every isolate loads (the crate's host, IPv6 and punycode code; measured, README). Query strings are read with
//! `form_urlencoded`, as the `url` crate reads them.

/// An absolute URL, parsed.
pub struct Url(web_sys::Url);

impl Url {
    /// Parses an absolute URL; the error names the text.
    pub fn parse(text: &str) -> Result<Url, String> {
        web_sys::Url::new(text)
            .map(Url)
            .map_err(|_| format!("not an absolute URL: {text}"))
    }

    /// The URL of the request being served.
    pub fn of(req: &worker::Request) -> Result<Url, String> {
        Url::parse(&req.inner().url())
    }

    /// The whole URL, serialized (`href`).
    pub fn as_string(&self) -> String {
        self.0.href()
    }

    /// `scheme://host[:port]`, or `null` for a URL without a tuple origin (`data:`, `javascript:`).
    pub fn origin(&self) -> String {
        self.0.origin()
    }

    /// The host name (IPv6 in brackets), without the port.
    pub fn host_name(&self) -> String {
        self.0.hostname()
    }

    /// The path, percent-encoded as sent.
    pub fn path(&self) -> String {
        self.0.pathname()
    }

    /// The path and, if there is one, `?` and the query: what a request line carries.
    pub fn path_and_query(&self) -> String {
        self.0.pathname() + &self.0.search()
    }

    /// The query's pairs, decoded, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let search = self.0.search();
        form_urlencoded::parse(search.trim_start_matches('?').as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// Appends `pairs` to the query, form-encoded.
    pub fn append_query(&self, pairs: &[(&str, &str)]) {
        let params = self.0.search_params();
        for (k, v) in pairs {
            params.append(k, v);
        }
    }

    /// Replaces the path and drops the query.
    pub fn set_path_only(&self, path: &str) {
        self.0.set_pathname(path);
        self.0.set_search("");
    }

    /// Sets the fragment (without `#`).
    pub fn set_fragment(&self, fragment: &str) {
        self.0.set_hash(fragment);
    }
}
