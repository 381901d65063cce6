//! Choosing the package set: the Depends/Pre-Depends closure of the Essential
//! packages plus the requested ones.
//!
//! This is the small resolver a bootstrap needs, not apt's: one candidate per name
//! (the highest version for the host architecture or `all`), no Conflicts/Breaks, no
//! Recommends. A group of alternatives is satisfied by an already selected package
//! when possible; groups with a real choice are decided only after every
//! unambiguous dependency has been followed, so "prefer what is already selected"
//! sees as much of the selection as it can. Otherwise the first alternative that
//! exists and satisfies its version wins; a virtual name goes to the provider with
//! the highest Priority (then the smallest name). Every step is ordered, so the same
//! index and request always give the same set.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use anyhow::{Result, anyhow, bail};

use super::packages::Package;
use super::relation::{self, Dep, Group};
use crate::base::version;

/// One selected package and what it was selected with.
#[derive(Debug, Clone)]
pub struct Resolved<'a> {
    /// The package.
    pub pkg: &'a Package<'a>,
    /// Selected packages satisfying its Depends and Pre-Depends (sorted, unique).
    pub depends: Vec<&'a str>,
    /// Selected packages satisfying its Pre-Depends alone (sorted, unique).
    pub pre_depends: Vec<&'a str>,
}

/// Who asked for a package, for messages.
#[derive(Clone, Copy)]
enum Cause<'a> {
    Essential,
    Requested,
    DependedOnBy(&'a str),
}

impl std::fmt::Display for Cause<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Essential => f.write_str("Essential"),
            Cause::Requested => f.write_str("requested"),
            Cause::DependedOnBy(n) => write!(f, "needed by {n}"),
        }
    }
}

struct Index<'a> {
    host_arch: &'a str,
    /// Name → best candidate.
    by_name: HashMap<&'a str, &'a Package<'a>>,
    /// Virtual name → providers (candidate, provided version), sorted by preference.
    providers: HashMap<&'a str, Vec<(&'a Package<'a>, Option<&'a str>)>>,
}

fn priority_rank(p: &str) -> u8 {
    match p {
        "required" => 0,
        "important" => 1,
        "standard" => 2,
        "optional" => 3,
        "extra" => 4,
        _ => 5,
    }
}

impl<'a> Index<'a> {
    fn new(pkgs: &'a [Package<'a>], host_arch: &'a str) -> Index<'a> {
        let mut by_name: HashMap<&str, &Package> = HashMap::new();
        for p in pkgs {
            if p.arch != host_arch && p.arch != "all" {
                continue;
            }
            by_name
                .entry(p.name)
                .and_modify(|best| {
                    if version::compare(p.version, best.version).is_gt() {
                        *best = p;
                    }
                })
                .or_insert(p);
        }
        let mut providers: HashMap<&str, Vec<(&Package, Option<&str>)>> = HashMap::new();
        for p in by_name.values() {
            for &(name, v) in &p.provides {
                providers.entry(name).or_default().push((p, v));
            }
        }
        for list in providers.values_mut() {
            list.sort_by(|(a, _), (b, _)| {
                priority_rank(a.priority)
                    .cmp(&priority_rank(b.priority))
                    .then(a.name.cmp(b.name))
            });
        }
        Index {
            host_arch,
            by_name,
            providers,
        }
    }

    /// Whether an architecture qualifier can be met on this host.
    fn arch_ok(&self, dep: &Dep) -> bool {
        match dep.arch {
            None | Some("any") | Some("native") => true,
            Some(a) => a == self.host_arch,
        }
    }

    /// Packages (real first, then providers, in preference order) that satisfy `dep`.
    fn satisfiers(&self, dep: &Dep<'a>) -> Vec<&'a Package<'a>> {
        let mut out = Vec::new();
        if !self.arch_ok(dep) {
            return out;
        }
        if let Some(p) = self.by_name.get(dep.name) {
            if dep.constraint.is_none_or(|(op, v)| op.holds(p.version, v)) {
                out.push(*p);
            }
        }
        for &(p, provided) in self.providers.get(dep.name).into_iter().flatten() {
            let ok = match (dep.constraint, provided) {
                (None, _) => true,
                (Some((op, v)), Some(pv)) => op.holds(pv, v),
                // An unversioned Provides never satisfies a versioned dependency.
                (Some(_), None) => false,
            };
            if ok && !out.iter().any(|q| q.name == p.name) {
                out.push(p);
            }
        }
        out
    }

    /// Cause no alternative of `group` can be satisfied, for the error message.
    fn explain(&self, group: &Group<'a>, why: Cause) -> anyhow::Error {
        let alts: Vec<String> = group.iter().map(|d| d.to_string()).collect();
        let mut detail = Vec::new();
        for d in group {
            match self.by_name.get(d.name) {
                Some(p) => detail.push(format!("the index has {} {}", p.name, p.version)),
                None if self.providers.contains_key(d.name) => {
                    detail.push(format!("no provider of {} fits", d.name))
                }
                None => detail.push(format!("{} is not in the index", d.name)),
            }
        }
        anyhow!(
            "cannot satisfy {} ({why}): {}",
            alts.join(" | "),
            detail.join("; ")
        )
    }
}

/// Resolves the Essential packages of `pkgs` plus `requested` (each a relation
/// group, e.g. `apt`, `git (>= 1:2.39)` or `vim | nano`) for `host_arch`.
/// Returns the selection sorted by name.
pub fn resolve<'a>(
    pkgs: &'a [Package<'a>],
    host_arch: &'a str,
    requested: &'a [String],
) -> Result<Vec<Resolved<'a>>> {
    let index = Index::new(pkgs, host_arch);
    let mut selected: BTreeMap<&str, &Package> = BTreeMap::new();
    let mut queue: VecDeque<&Package> = VecDeque::new();
    // Groups with a real choice, decided once nothing unambiguous is left.
    let mut deferred: VecDeque<(Group, Cause)> = VecDeque::new();

    let select = |p: &'a Package<'a>,
                  selected: &mut BTreeMap<&'a str, &'a Package<'a>>,
                  queue: &mut VecDeque<&'a Package<'a>>| {
        if selected.insert(p.name, p).is_none() {
            queue.push_back(p);
        }
    };

    let mut essential: Vec<&Package> = index
        .by_name
        .values()
        .copied()
        .filter(|p| p.essential)
        .collect();
    essential.sort_by_key(|p| p.name);
    for p in essential {
        select(p, &mut selected, &mut queue);
    }
    let mut wanted = Vec::new();
    for r in requested {
        let groups =
            relation::parse(r, host_arch).map_err(|e| anyhow!("bad package request '{r}': {e}"))?;
        if groups.is_empty() {
            bail!("empty package request '{r}'");
        }
        wanted.extend(groups.into_iter().map(|g| (g, Cause::Requested)));
    }

    let satisfied = |group: &Group<'a>, selected: &BTreeMap<&str, &Package>| {
        group.iter().any(|d| {
            index
                .satisfiers(d)
                .iter()
                .any(|p| selected.contains_key(p.name))
        })
    };

    // Requested groups go first in the deferred list: they are the user's choice.
    for (g, why) in wanted {
        deferred.push_back((g, why));
    }
    loop {
        while let Some(p) = queue.pop_front() {
            for group in p.pre_depends.iter().chain(&p.depends) {
                if satisfied(group, &selected) {
                    continue;
                }
                let why = Cause::DependedOnBy(p.name);
                let choices: Vec<&Package> =
                    group.iter().flat_map(|d| index.satisfiers(d)).collect();
                match choices.as_slice() {
                    [] => return Err(index.explain(group, why)),
                    [only] => select(only, &mut selected, &mut queue),
                    _ => deferred.push_back((group.clone(), why)),
                }
            }
        }
        let Some((group, why)) = deferred.pop_front() else {
            break;
        };
        if satisfied(&group, &selected) {
            continue;
        }
        match group.iter().flat_map(|d| index.satisfiers(d)).next() {
            Some(p) => select(p, &mut selected, &mut queue),
            None => return Err(index.explain(&group, why)),
        }
    }

    let first_selected = |group: &Group<'a>| -> Option<&'a str> {
        group
            .iter()
            .flat_map(|d| index.satisfiers(d))
            .find(|p| selected.contains_key(p.name))
            .map(|p| p.name)
    };
    let mut out = Vec::with_capacity(selected.len());
    for p in selected.values() {
        let names = |groups: &[Group<'a>]| -> Vec<&'a str> {
            let set: BTreeSet<&str> = groups
                .iter()
                .filter_map(first_selected)
                .filter(|n| *n != p.name)
                .collect();
            set.into_iter().collect()
        };
        let pre_depends = names(&p.pre_depends);
        let mut depends = names(&p.depends);
        depends.extend(&pre_depends);
        depends.sort_unstable();
        depends.dedup();
        out.push(Resolved {
            pkg: p,
            depends,
            pre_depends,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::packages;
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// A Packages text from `(name, version, arch, extra fields)`.
    fn index(entries: &[(&str, &str, &str, &str)]) -> String {
        let mut s = String::new();
        for (name, version, arch, extra) in entries {
            s += &format!(
                "Package: {name}\nVersion: {version}\nArchitecture: {arch}\nFilename: pool/{name}.deb\nSize: 1\nSHA256: {SHA}\n{extra}\n"
            );
        }
        s
    }

    fn names(r: &[Resolved]) -> Vec<String> {
        r.iter().map(|r| r.pkg.name.to_owned()).collect()
    }

    fn base() -> String {
        index(&[
            (
                "base",
                "1",
                "amd64",
                "Essential: yes\nPriority: required\nPre-Depends: libc (>= 2)\nDepends: awk\n",
            ),
            ("libc", "2.1", "amd64", "Priority: required\n"),
            ("libc-old", "1", "amd64", ""),
            (
                "mawk",
                "1",
                "amd64",
                "Priority: required\nProvides: awk\nDepends: libc\n",
            ),
            ("gawk", "5", "amd64", "Priority: optional\nProvides: awk\n"),
            (
                "apt",
                "2.6",
                "amd64",
                "Depends: libc (>= 2), gpgv | gpgv2\n",
            ),
            ("gpgv", "2.2", "amd64", ""),
            ("gpgv2", "2.2", "amd64", ""),
            ("tool", "1", "all", "Depends: perl:any, gpgv2 | gpgv\n"),
            ("perl", "5.36", "amd64", "Depends: libc (>= 2.1)\n"),
            ("other-arch", "1", "arm64", "Essential: yes\n"),
        ])
    }

    #[test]
    fn closure_of_essential_and_requested() {
        let text = base();
        let pkgs = packages::parse(&text, "amd64").unwrap();
        let req = vec!["apt".to_string()];
        let r = resolve(&pkgs, "amd64", &req).unwrap();
        assert_eq!(names(&r), ["apt", "base", "gpgv", "libc", "mawk"]);
        let base = r.iter().find(|r| r.pkg.name == "base").unwrap();
        assert_eq!(
            base.depends,
            ["libc", "mawk"],
            "virtual awk resolved to mawk"
        );
        assert_eq!(base.pre_depends, ["libc"]);
    }

    #[test]
    fn alternatives_prefer_what_is_already_selected() {
        let text = base();
        let pkgs = packages::parse(&text, "amd64").unwrap();
        // tool says gpgv2 | gpgv, apt says gpgv | gpgv2: whichever way round, one
        // of them is enough; the requested order decides which.
        let req = vec!["apt".to_string(), "tool".to_string()];
        let r = resolve(&pkgs, "amd64", &req).unwrap();
        assert_eq!(
            names(&r),
            ["apt", "base", "gpgv", "libc", "mawk", "perl", "tool"]
        );
        // An explicit request for an alternative wins over the first alternative.
        let req = vec!["gpgv2".to_string(), "apt".to_string()];
        let r = resolve(&pkgs, "amd64", &req).unwrap();
        assert!(names(&r).contains(&"gpgv2".to_string()));
        assert!(!names(&r).contains(&"gpgv".to_string()));
    }

    #[test]
    fn version_constraints_pick_the_alternative_that_fits() {
        let text = index(&[
            (
                "a",
                "1",
                "amd64",
                "Essential: yes\nDepends: lib (>= 3) | lib3\n",
            ),
            ("lib", "2", "amd64", ""),
            ("lib3", "3", "amd64", ""),
            ("v", "1", "all", "Depends: virt (>= 2)\n"),
            ("p1", "1", "amd64", "Provides: virt\n"),
            ("p2", "1", "amd64", "Provides: virt (= 2)\n"),
        ]);
        let pkgs = packages::parse(&text, "amd64").unwrap();
        let req = vec!["v".to_string()];
        let r = resolve(&pkgs, "amd64", &req).unwrap();
        assert_eq!(names(&r), ["a", "lib3", "p2", "v"]);
    }

    #[test]
    fn highest_version_is_the_candidate() {
        let text = index(&[
            ("a", "1.0", "amd64", "Essential: yes\n"),
            ("a", "1:0.1", "amd64", "Essential: yes\n"),
            ("a", "2.0", "amd64", "Essential: yes\n"),
        ]);
        let pkgs = packages::parse(&text, "amd64").unwrap();
        let r = resolve(&pkgs, "amd64", &[]).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].pkg.version, "1:0.1");
    }

    #[test]
    fn missing_dependency_names_it_and_who_needs_it() {
        let text = index(&[("a", "1", "amd64", "Essential: yes\nDepends: ghost (>= 1)\n")]);
        let pkgs = packages::parse(&text, "amd64").unwrap();
        let err = resolve(&pkgs, "amd64", &[]).unwrap_err().to_string();
        assert!(err.contains("ghost (>= 1)"), "{err}");
        assert!(err.contains("needed by a"), "{err}");
        assert!(err.contains("not in the index"), "{err}");

        let text = base();
        let pkgs = packages::parse(&text, "amd64").unwrap();
        let req = vec!["nosuch".to_string()];
        let err = resolve(&pkgs, "amd64", &req).unwrap_err().to_string();
        assert!(err.contains("nosuch (requested)"), "{err}");
        let req = vec!["libc (>= 3)".to_string()];
        let err = resolve(&pkgs, "amd64", &req).unwrap_err().to_string();
        assert!(err.contains("the index has libc 2.1"), "{err}");
        let req = vec!["perl:arm64".to_string()];
        assert!(resolve(&pkgs, "amd64", &req).is_err());
    }

    #[test]
    fn output_is_deterministic() {
        let text = base();
        let pkgs = packages::parse(&text, "amd64").unwrap();
        let req = vec!["tool".to_string(), "apt".to_string()];
        let a = names(&resolve(&pkgs, "amd64", &req).unwrap());
        for _ in 0..5 {
            assert_eq!(names(&resolve(&pkgs, "amd64", &req).unwrap()), a);
        }
    }
}
