//! The address guard: a feed on the open internet may not lead newshound into the machine's own
//! network (SSRF).
//!
//! Every address is classified ([`class`]): global, local (loopback, private ranges, CGNAT,
//! unique-local, unspecified, documentation, multicast, broadcast) or link-local (169.254/16 and
//! fe80::/10, where cloud metadata services live). IPv4-mapped and IPv4-compatible IPv6 addresses
//! are judged by their IPv4 address; the `url` crate has already turned decimal, octal and hex
//! spellings (`http://2852039166/`) into plain addresses.
//!
//! Policy ([`Guard`]): a feed the user configured at a local address (an IP literal, `localhost`,
//! or a `.local`/`.lan`/`.internal`/`.home.arpa` name) may reach local addresses; any other feed
//! may reach global addresses only, through redirects or DNS answers alike. Link-local is refused
//! for every feed unless `allow_link_local` is set. `strict` refuses local feeds too; `off`
//! disables the guard. Checks run on IP literals of the first URL and of every redirect hop
//! (hyper does not ask the resolver for literals) and, through [`GuardedResolver`], on every DNS
//! answer, so a name that re-resolves to a private address (DNS rebinding) cannot connect.

use std::net::{IpAddr, SocketAddr};

use url::{Host, Url};

/// Where an address lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Global,
    Local,
    LinkLocal,
}

/// Classifies an address (IPv4-mapped and -compatible IPv6 by their IPv4 part).
pub fn class(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if o[0] == 169 && o[1] == 254 {
                Class::LinkLocal
            } else if v4.is_loopback()
                || v4.is_private()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // CGNAT 100.64/10
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) // benchmarking
                || o[0] >= 240
            {
                Class::Local
            } else {
                Class::Global
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return class(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96): the embedded IPv4.
            if (s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified())
                || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
            {
                let v4 = std::net::Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                );
                return class(IpAddr::V4(v4));
            }
            if (s[0] & 0xffc0) == 0xfe80 {
                Class::LinkLocal
            } else if v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || s[0] == 0x2002 // 6to4: embedded IPv4 would need checking; refuse
                || (s[0] == 0x2001 && s[1] == 0)
            // Teredo
            {
                Class::Local
            } else {
                Class::Global
            }
        }
    }
}

/// The guard's global setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Local feeds work as configured; feeds elsewhere reach global addresses only.
    #[default]
    LocalFeeds,
    /// Global addresses only, for every feed.
    Strict,
    /// No checks.
    Off,
}

/// What one feed may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    pub allow_local: bool,
    pub allow_link_local: bool,
    pub enabled: bool,
}

impl Guard {
    /// The guard for a feed configured at `url`.
    pub fn for_feed(url: &Url, mode: Mode, allow_link_local: bool) -> Guard {
        match mode {
            Mode::Off => Guard {
                allow_local: true,
                allow_link_local: true,
                enabled: false,
            },
            Mode::Strict => Guard {
                allow_local: false,
                allow_link_local,
                enabled: true,
            },
            Mode::LocalFeeds => Guard {
                allow_local: is_local_host(url),
                allow_link_local,
                enabled: true,
            },
        }
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        !self.enabled
            || match class(ip) {
                Class::Global => true,
                Class::Local => self.allow_local,
                Class::LinkLocal => self.allow_link_local,
            }
    }

    /// Checks a URL whose host is an IP literal; names are checked when they resolve.
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        let ip = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        if self.allows(ip) {
            Ok(())
        } else {
            Err(refusal(ip))
        }
    }
}

fn refusal(ip: IpAddr) -> String {
    match class(ip) {
        Class::LinkLocal => format!(
            "{ip} is link-local (cloud metadata lives there); set allow_link_local = true to allow it"
        ),
        _ => {
            format!("{ip} is not a public address, and this feed is not configured at a local one")
        }
    }
}

/// Was the feed configured at a local address?
fn is_local_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(v4)) => class(IpAddr::V4(v4)) != Class::Global,
        Some(Host::Ipv6(v6)) => class(IpAddr::V6(v6)) != Class::Global,
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost"
                || !d.contains('.')
                || [
                    ".localhost",
                    ".local",
                    ".lan",
                    ".internal",
                    ".home.arpa",
                    ".localdomain",
                ]
                .iter()
                .any(|s| d.ends_with(s))
        }
        None => false,
    }
}

/// A DNS resolver that keeps only the answers the guard allows, and fails when none is left, so
/// hyper never connects to a refused address, whatever a name resolves to at connect time.
pub struct GuardedResolver {
    pub guard: Guard,
}

/// A name whose every address the guard refuses. Typed, so that `fetch` finds it in the
/// resolver's error chain by its type, not by its text.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {why}")]
pub struct Blocked {
    pub host: String,
    pub why: String,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.guard;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = filter(guard, &addrs);
            if allowed.is_empty() {
                let why = addrs
                    .first()
                    .map_or_else(|| "no addresses".to_owned(), |a| refusal(a.ip()));
                return Err(
                    Box::new(Blocked { host, why }) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The answers a guard allows.
pub fn filter(guard: Guard, addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    addrs
        .iter()
        .copied()
        .filter(|a| guard.allows(a.ip()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn url_class(s: &str) -> Class {
        match Url::parse(s).unwrap().host() {
            Some(Host::Ipv4(v4)) => class(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => class(IpAddr::V6(v6)),
            other => panic!("not an IP literal: {other:?}"),
        }
    }

    #[test]
    fn addresses_are_classified() {
        for (a, c) in [
            ("8.8.8.8", Class::Global),
            ("127.0.0.1", Class::Local),
            ("10.0.0.5", Class::Local),
            ("172.16.3.4", Class::Local),
            ("192.168.1.1", Class::Local),
            ("100.64.0.1", Class::Local),
            ("0.0.0.0", Class::Local),
            ("255.255.255.255", Class::Local),
            ("169.254.169.254", Class::LinkLocal),
            ("::1", Class::Local),
            ("fe80::1", Class::LinkLocal),
            ("fd00::1", Class::Local),
            ("::ffff:169.254.169.254", Class::LinkLocal),
            ("::ffff:10.0.0.1", Class::Local),
            ("::ffff:8.8.8.8", Class::Global),
            ("64:ff9b::a9fe:a9fe", Class::LinkLocal),
            ("2606:4700::1111", Class::Global),
        ] {
            assert_eq!(class(ip(a)), c, "{a}");
        }
    }

    #[test]
    fn every_spelling_of_the_metadata_address_is_link_local() {
        for u in [
            "http://169.254.169.254/",
            "http://2852039166/",
            "http://0251.0376.0251.0376/",
            "http://0xA9.0xFE.0xA9.0xFE/",
            "http://0xa9fea9fe/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
        ] {
            assert_eq!(url_class(u), Class::LinkLocal, "{u}");
        }
    }

    #[test]
    fn local_feeds_may_reach_local_addresses_others_may_not() {
        let public = Guard::for_feed(
            &Url::parse("https://news.example/rss").unwrap(),
            Mode::LocalFeeds,
            false,
        );
        let local = Guard::for_feed(
            &Url::parse("http://127.0.0.1:8080/rss").unwrap(),
            Mode::LocalFeeds,
            false,
        );
        let nas = Guard::for_feed(
            &Url::parse("http://nas.lan/rss").unwrap(),
            Mode::LocalFeeds,
            false,
        );
        let e = public
            .check_url(&Url::parse("http://10.0.0.5/").unwrap())
            .unwrap_err();
        assert!(e.contains("10.0.0.5 is not a public address"), "{e}");
        assert!(
            public
                .check_url(&Url::parse("http://8.8.8.8/").unwrap())
                .is_ok()
        );
        assert!(
            local
                .check_url(&Url::parse("http://10.0.0.5/").unwrap())
                .is_ok()
        );
        assert!(nas.allows(ip("192.168.1.10")));
        for g in [public, local, nas] {
            let e = g
                .check_url(&Url::parse("http://2852039166/").unwrap())
                .unwrap_err();
            assert!(
                e.contains("169.254.169.254 is link-local"),
                "metadata refused for {g:?}: {e}"
            );
        }
    }

    #[test]
    fn strict_refuses_local_feeds_and_off_allows_everything() {
        let strict = Guard::for_feed(
            &Url::parse("http://127.0.0.1/rss").unwrap(),
            Mode::Strict,
            false,
        );
        let e = strict
            .check_url(&Url::parse("http://127.0.0.1/rss").unwrap())
            .unwrap_err();
        assert!(e.contains("127.0.0.1 is not a public address"), "{e}");
        let off = Guard::for_feed(
            &Url::parse("https://news.example/").unwrap(),
            Mode::Off,
            false,
        );
        assert!(off.allows(ip("169.254.169.254")));
    }

    #[test]
    fn dns_answers_are_filtered_so_rebinding_cannot_connect() {
        let public = Guard::for_feed(
            &Url::parse("https://news.example/rss").unwrap(),
            Mode::LocalFeeds,
            false,
        );
        let answers: Vec<SocketAddr> = ["10.0.0.5:0", "93.184.216.34:0", "[::ffff:127.0.0.1]:0"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(
            filter(public, &answers),
            vec!["93.184.216.34:0".parse::<SocketAddr>().unwrap()]
        );
        assert!(filter(public, &answers[..1]).is_empty());
    }
}
