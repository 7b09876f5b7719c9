//! Word lists. Kept apart from the logic so that adding a phrasing is a one-line change.

/// Words that carry no field: greetings, pronouns, articles, politeness, request verbs.
/// They never become a resource, a role or a literal name.
const FILLER: &[&str] = &[
    "a", "about", "access", "acces", "accesss", "acess", "account", "actually", "add", "again", "all", "allow", "also", "am", "an", "and",
    "any", "anymore", "approx", "are", "around", "as", "asap", "at", "be", "behalf", "bit", "bro", "but", "by", "can", "cheers", "could",
    "couldnt", "cya", "do", "does", "dont", "enable", "for", "from", "get", "getting", "give", "gimme", "got", "guys", "have", "hello",
    "help", "her", "here", "hey", "hi", "him", "his", "hiya", "hmm", "hook", "i", "id", "if", "im", "in", "into", "is", "it", "its",
    "ive", "just", "kind", "kindly", "let", "level", "like", "little", "lot", "mate", "may", "maybe", "me", "might", "mine", "more",
    "morning", "my", "myself", "need", "needed", "needful", "needs", "nick", "no", "nope", "now", "of", "ok", "okay", "on", "one",
    "ones", "only", "or", "our", "perm", "permission", "permissions", "perms", "please", "pls", "plz", "plss", "privileges",
    "provide", "provision", "quick", "quickly", "real", "really", "request", "requesting", "require", "requirement", "right",
    "rights", "rn", "role", "roles", "saw", "set", "she", "should", "sir", "so", "some", "someone", "something", "soon", "sorry",
    "still", "sure", "team", "thank", "thanks", "that", "the", "their", "them", "then", "there", "these", "they", "thing", "this",
    "those", "thx", "to", "too", "ty", "u", "uh", "um", "up", "urgent", "urgently", "us", "via", "wait", "wanna", "want", "wants",
    "was", "we", "well", "were", "what", "whats", "when", "where", "which", "who", "will", "with", "would", "ya", "yeah", "yep",
    "yes", "yo", "you", "your",
];

pub(super) fn is_filler(word: &str) -> bool {
    FILLER.contains(&word)
}

/// Role vocabulary people use regardless of the catalog. `says` are what people type (as
/// normalised word sequences), `names` the role names a catalog is likely to use for it, in order
/// of preference; the first one the resource really has wins.
pub(super) struct RoleGroup {
    pub canonical: &'static str,
    pub says: &'static [&'static str],
    pub names: &'static [&'static str],
}

pub(super) const ROLE_GROUPS: &[RoleGroup] = &[
    RoleGroup {
        canonical: "write",
        says: &["read write", "readwrite", "rw", "r w", "write", "writes", "writer", "edit", "editor", "modify"],
        names: &["write", "read write", "readwrite", "rw", "editor", "edit", "writer"],
    },
    RoleGroup {
        canonical: "read",
        says: &["read only", "readonly", "ro", "r o", "read", "reads", "reader", "view only", "view", "viewer", "select"],
        names: &["read", "readonly", "read only", "reader", "viewer", "view", "ro"],
    },
    RoleGroup {
        canonical: "admin",
        says: &["admin", "admins", "administrator", "root", "superuser", "super user", "sudo"],
        names: &["admin", "administrator", "root", "superuser", "owner"],
    },
    RoleGroup { canonical: "deploy", says: &["deploy", "deployer"], names: &["deploy", "deployer"] },
    RoleGroup { canonical: "maintain", says: &["maintain", "maintainer"], names: &["maintain", "maintainer"] },
    RoleGroup { canonical: "poweruser", says: &["poweruser", "power user"], names: &["poweruser", "power user"] },
];

/// "All roles": validation turns the literal "all" into a question.
pub(super) const ROLE_WILDCARDS: &[&str] = &[
    "all roles", "all the roles", "every role", "any role", "all permissions", "all perms", "all privileges", "all access",
    "full access", "full permissions", "all rights", "god mode",
];

pub(super) fn role_group(phrase: &str) -> Option<&'static RoleGroup> {
    ROLE_GROUPS.iter().find(|g| g.says.contains(&phrase))
}

/// Words that mean "everything" as a resource.
pub(super) const WILDCARD_WORDS: &[&str] = &["everything", "anything", "everywhere", "*"];
/// "all"/"every"/"any" followed, within a few words, by one of these means "everything" too.
pub(super) const WILDCARD_NOUNS: &[&str] = &[
    "systems", "system", "resources", "resource", "dbs", "databases", "database", "servers", "envs", "environments",
    "things", "services", "clusters", "repos", "accounts", "tools", "apps", "of",
];

/// Name words too common to identify a resource on their own ("the database", "prod").
pub(super) const GENERIC_NAME_WORDS: &[&str] = &[
    "db", "database", "databases", "prod", "production", "staging", "stage", "repo", "repository", "cluster", "account",
    "server", "service", "system", "dashboard", "app", "env", "environment", "corporate", "engineering", "customer", "data",
    "internal", "main", "primary", "new", "old",
];

/// Kinds of system: saying one ("db pls") asks for access even with no verb and no name.
pub(super) const SYSTEM_NOUNS: &[&str] = &[
    "db", "dbs", "database", "databases", "repo", "repos", "repository", "cluster", "server", "servers", "dashboard",
    "dashboards", "console", "bucket", "env", "environment",
];

/// Verbs that, after "to", introduce a purpose ("to fix the refund job").
pub(super) const PURPOSE_VERBS: &[&str] = &[
    "analyse", "analyze", "answer", "apply", "audit", "backfill", "benchmark", "check", "clean", "cleanup", "configure",
    "create", "debug", "delete", "deploy", "diagnose", "download", "export", "finish", "fix", "generate", "grab", "handle",
    "help", "inspect", "investigate", "look", "merge", "migrate", "monitor", "patch", "prepare", "profile", "pull", "push",
    "query", "rerun", "reconcile", "recover", "release", "reprocess", "resolve", "restart", "restore", "retry", "review",
    "roll", "rollback", "rotate", "run", "see", "setup", "support", "test", "triage", "troubleshoot", "tune", "unblock",
    "unstick", "update", "upgrade", "upload", "verify",
];

/// Nouns that, after "for (the|a|an|my|our)", introduce a reason ("for the incident").
pub(super) const REASON_NOUNS: &[&str] = &[
    "analysis", "audit", "backfill", "bug", "bugfix", "client", "compliance", "customer", "debugging", "demo", "deploy",
    "deployment", "escalation", "fix", "hotfix", "incident", "investigation", "issue", "maintenance", "migration", "oncall",
    "outage", "patch", "postmortem", "reconciliation", "release", "report", "reporting", "review", "rollout", "sev1", "sev2",
    "support", "ticket", "upgrade",
];

/// Stems that make a clause read like a reason ("payments down", "pods crashlooping").
pub(super) const REASON_STEMS: &[&str] = &[
    "alert", "analys", "analyz", "audit", "backfill", "broke", "bug", "client", "complian", "crash", "customer", "deadline",
    "debug", "delet", "demo", "down", "error", "escalat", "export", "fail", "finance", "fire", "fix", "gdpr", "hotfix",
    "incident", "investigat", "invoice", "issue", "latency", "legal", "migrat", "oncall", "outage", "page", "patch", "payout",
    "postmortem", "recover", "reconcil", "refund", "releas", "report", "restor", "rollback", "rotat", "sev",
    "slow", "stuck", "support", "timeout", "troubleshoot", "upgrade",
];

/// Replies that confirm a "Did you mean …?" question.
pub(super) const AFFIRMATIVE: &[&str] = &[
    "yes", "yep", "yeah", "yup", "y", "ya", "correct", "right", "exactly", "sure", "ok", "okay", "affirmative", "that one",
    "yes please", "thats it", "thats right", "thats the one", "yes that one", "yes thats it", "yes thats right",
];
