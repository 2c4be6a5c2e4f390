//! Who may use an organization's web license server at all, before its policy is asked:
//! the panel's deny list, allow list and allowed e-mail domains. An entry of a list is an
//! OS account (the checkout's `user`) or an e-mail address; a domain is what follows the
//! `@` of the verified e-mail of the person whose sign-in takes the seat (never an
//! address a program merely typed). The deny list wins; with no allow entry and no
//! domain, everyone not denied is admitted. Names compare without regard to case.
//! People of other organizations are admitted only by name or domain
//! ([`AccessLists::admits_outsider`]).

/// The panel's lists, one entry a line as the admin typed them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessLists {
    pub allow_domains: Vec<String>,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

/// Why the lists refuse someone: the rule, for the admin and the denial record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRefusal {
    pub rule: String,
    pub message: String,
}

/// The most entries one list may hold, and the longest entry.
pub const MAX_ENTRIES: usize = 1000;
pub const MAX_ENTRY_LEN: usize = 254;

fn normalize(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

/// One entry a line (commas also separate), trimmed, empty lines dropped, duplicates once.
pub fn parse_list(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for entry in text.split(['\n', ',']).map(normalize) {
        if !entry.is_empty() && !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

/// Checks a list typed in the panel; the message says which entry is wrong and why.
pub fn check_list(what: &str, entries: &[String], domains: bool) -> Result<(), String> {
    if entries.len() > MAX_ENTRIES {
        return Err(format!("{what} may hold at most {MAX_ENTRIES} entries"));
    }
    for e in entries {
        if e.len() > MAX_ENTRY_LEN {
            return Err(format!(
                "{what}: `{}…` is longer than {MAX_ENTRY_LEN} characters",
                &e[..20.min(e.len())]
            ));
        }
        if e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{what}: `{e}` has a space in it"));
        }
        if domains {
            let d = e.trim_start_matches('@');
            if d.is_empty() || d.contains('@') || !d.contains('.') {
                return Err(format!(
                    "{what}: `{e}` is not a domain (write it like example.com)"
                ));
            }
        }
    }
    Ok(())
}

fn domain_of(email: &str) -> Option<&str> {
    email
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
}

impl AccessLists {
    pub fn is_open(&self) -> bool {
        self.allow_domains.is_empty() && self.allow.is_empty() && self.deny.is_empty()
    }

    /// Whether someone signed in as `email` who does not belong to the organization may
    /// take its seats: only when the allow list names them or an allowed domain is
    /// theirs, and the deny list does not.
    pub fn admits_outsider(&self, email: &str) -> bool {
        let email = normalize(email);
        if email.is_empty() || self.deny.contains(&email) {
            return false;
        }
        let domain = domain_of(&email);
        self.allow.contains(&email)
            || domain.is_some_and(|d| {
                self.allow_domains
                    .iter()
                    .any(|a| a.trim_start_matches('@') == d)
            })
    }

    /// Whether the OS account `user` (with the verified e-mail of its sign-in, if any)
    /// may take a seat.
    pub fn admit(&self, user: &str, email: Option<&str>) -> Result<(), AccessRefusal> {
        let user = normalize(user);
        let email = email.map(normalize).filter(|e| !e.is_empty());
        let named = |entry: &String| *entry == user || email.as_ref() == Some(entry);
        let who = match &email {
            Some(e) => format!("{user} ({e})"),
            None => user.clone(),
        };
        if let Some(entry) = self.deny.iter().find(|e| named(e)) {
            return Err(AccessRefusal {
                rule: format!("deny list: {entry}"),
                message: format!("{who} is on the deny list of this web license server ({entry})"),
            });
        }
        if self.allow.is_empty() && self.allow_domains.is_empty() {
            return Ok(());
        }
        if self.allow.iter().any(named) {
            return Ok(());
        }
        let domain = email.as_deref().and_then(domain_of);
        if let Some(d) = domain
            && self
                .allow_domains
                .iter()
                .any(|a| a.trim_start_matches('@') == d)
        {
            return Ok(());
        }
        let rule = if self.allow_domains.is_empty() {
            "allow list".to_owned()
        } else if self.allow.is_empty() {
            format!("allowed e-mail domains: {}", self.allow_domains.join(", "))
        } else {
            format!(
                "allow list or allowed e-mail domains: {}",
                self.allow_domains.join(", ")
            )
        };
        let message = match (&email, self.allow_domains.is_empty()) {
            (None, false) => format!(
                "{who} is not signed in (a site key names no person), and this web license server admits only its allow list and people signed in with e-mail addresses at {}",
                self.allow_domains.join(", ")
            ),
            _ => format!("{who} is not admitted by the {rule} of this web license server"),
        };
        Err(AccessRefusal { rule, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(domains: &str, allow: &str, deny: &str) -> AccessLists {
        AccessLists {
            allow_domains: parse_list(domains),
            allow: parse_list(allow),
            deny: parse_list(deny),
        }
    }

    #[test]
    fn empty_lists_admit_everyone() {
        assert!(lists("", "", "").admit("anna", None).is_ok());
        assert!(lists("", "", "").is_open());
    }

    #[test]
    fn the_deny_list_wins_over_the_allow_list_and_the_domains() {
        let l = lists("example.com", "bob", "Bob\nmallory@example.com");
        let e = l.admit("bob", None).unwrap_err();
        assert_eq!(e.rule, "deny list: bob");
        assert!(
            l.admit("mal", Some("Mallory@Example.com"))
                .unwrap_err()
                .rule
                .contains("mallory@example.com")
        );
        assert!(l.admit("anna", Some("anna@example.com")).is_ok());
    }

    #[test]
    fn an_allow_list_or_a_domain_admits_and_nobody_else() {
        let l = lists("@example.com, partner.org", "carol", "");
        assert!(l.admit("carol", None).is_ok(), "on the allow list");
        assert!(l.admit("dave", Some("dave@partner.org")).is_ok());
        assert!(l.admit("dave", Some("dave@EXAMPLE.com")).is_ok());
        let e = l.admit("eve", Some("eve@evil.example")).unwrap_err();
        assert!(e.rule.contains("allowed e-mail domains"), "{e:?}");
        let e = l.admit("eve", None).unwrap_err();
        assert!(e.message.contains("is not signed in"), "{e:?}");
        // A domain in the middle of an address is not the address's domain.
        assert!(l.admit("x", Some("x@example.com.evil.org")).is_err());
    }

    #[test]
    fn an_outsider_needs_to_be_named_or_on_an_allowed_domain() {
        assert!(!lists("", "", "").admits_outsider("eve@evil.example"));
        let l = lists("partner.org", "carol@friends.example", "bad@partner.org");
        assert!(l.admits_outsider("Dave@Partner.org"));
        assert!(l.admits_outsider("carol@friends.example"));
        assert!(!l.admits_outsider("bad@partner.org"), "the deny list wins");
        assert!(!l.admits_outsider("x@partner.org.evil.example"));
        assert!(!l.admits_outsider(""));
    }

    #[test]
    fn lists_are_checked_entry_by_entry() {
        assert!(check_list("Allowed e-mail domains", &parse_list("example.com"), true).is_ok());
        let e = check_list("Allowed e-mail domains", &parse_list("localhost"), true).unwrap_err();
        assert!(e.contains("localhost"), "{e}");
        let e = check_list("Deny list", &["a b".into()], false).unwrap_err();
        assert!(e.contains("space"), "{e}");
        assert_eq!(parse_list(" A\n\na ,b"), vec!["a", "b"]);
    }
}
