// A rule in the API's shape (a [[tenants.NAME.cors]] table) and in the form's
// shape (one card of the panel), and a readable diff of two rule lists.

/** The methods offered as checkboxes; any other method goes under "Other methods". */
export const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
/** Fetch upper-cases these six (and websvc too); every other method is case-sensitive. */
export const NORMALISED = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];

/** The visible label of each rule key (the panel's labels, ADMIN-API §5). */
export const LABELS = {
  domain: "Domain",
  protocols: "Allow HTTP / Allow HTTPS",
  ports: "Ports",
  methods: "Allowed methods",
  request_headers: "Allowed request headers",
  expose_headers: "Exposed response headers",
  allow_credentials: "Allow credentials",
  allow_caching: "Allow caching",
  max_age: "Max age",
  paths: "Paths",
  allow_any_origin: "Any origin",
  allow_private_network: "Allow private network",
};
const KEYS = Object.keys(LABELS);

let cards = 0;

/** A card (the form's state of one rule) for a rule as GET answers it (every key filled in). */
export function toCard(rule) {
  cards += 1;
  const protocols = rule.protocols || ["https"];
  const ports = rule.ports;
  return {
    uid: `rule${cards}`,
    domain: rule.domain ?? "",
    http: protocols.includes("http"),
    https: protocols.includes("https"),
    anyPort: Array.isArray(ports) && ports.length === 1 && ports[0] === "*",
    ports: Array.isArray(ports) && !(ports.length === 1 && ports[0] === "*") ? ports.join(", ") : "",
    methods: [...(rule.methods || ["GET", "HEAD", "POST"])],
    request_headers: [...(rule.request_headers || [])],
    expose_headers: [...(rule.expose_headers || [])],
    allow_credentials: Boolean(rule.allow_credentials),
    allow_caching: Boolean(rule.allow_caching),
    max_age: String(rule.max_age ?? 600),
    paths: [...(rule.paths || [])],
    allow_any_origin: Boolean(rule.allow_any_origin),
    allow_private_network: Boolean(rule.allow_private_network),
    // what was typed into a tag input and not yet turned into a tag
    pending: {request_headers: "", expose_headers: "", paths: "", other_methods: ""},
  };
}

/** A card for a new rule: https on its default port, GET/HEAD/POST, every path. */
export function newCard() {
  return toCard({domain: "", protocols: ["https"], methods: ["GET", "HEAD", "POST"], max_age: 600});
}

/** Split "a, b c" into ["a", "b", "c"]. */
export function words(text) {
  return String(text).split(/[\s,]+/).filter(Boolean);
}

/** Turn what is still typed in a tag input into tags (Save and Try it do this first). */
export function commitPending(card) {
  for (const key of ["request_headers", "expose_headers", "paths"]) {
    for (const word of words(card.pending[key])) if (!card[key].includes(word)) card[key].push(word);
    card.pending[key] = "";
  }
  for (const word of words(card.pending.other_methods)) {
    if (!card.methods.includes(word)) card.methods.push(word);
  }
  card.pending.other_methods = "";
}

/**
 * The rule a card stands for, in the API's shape. Nothing is checked here: a
 * value that is not a number stays a string, so the API names the problem
 * next to its field with `websvc check`'s own words.
 */
export function toRule(card) {
  const rule = {domain: card.domain.trim()};
  rule.protocols = [...(card.http ? ["http"] : []), ...(card.https ? ["https"] : [])];
  if (card.anyPort) {
    rule.ports = ["*"];
  } else {
    const ports = words(card.ports).map(numberOrText);
    if (ports.length) rule.ports = ports; // no ports: each protocol's default port
  }
  if (card.paths.length) rule.paths = [...card.paths]; // no paths: every path
  rule.methods = [...card.methods];
  rule.request_headers = [...card.request_headers];
  rule.expose_headers = [...card.expose_headers];
  rule.allow_credentials = card.allow_credentials;
  rule.allow_caching = card.allow_caching;
  const maxAge = card.max_age.trim();
  if (maxAge !== "") rule.max_age = numberOrText(maxAge);
  rule.allow_any_origin = card.allow_any_origin;
  rule.allow_private_network = card.allow_private_network;
  return rule;
}

function numberOrText(text) {
  return /^-?\d+$/.test(text) && text.length < 16 ? Number(text) : text;
}

/** A problem's path split up: "rules[2].max_age" -> {index: 2, key: "max_age"}; null if not a rule's. */
export function problemPlace(path) {
  const match = /^rules\[(\d+)\](?:\.([a-z_]+))?/.exec(path || "");
  if (!match) return null;
  const key = match[2] && KEYS.includes(match[2]) ? match[2] : null;
  if (match[2] && !key) return null; // a key the panel has no field for: summary only
  return {index: Number(match[1]), key};
}

/** One line saying what a rule accepts: "http://127.0.0.1, any port: PUT". */
export function summary(rule) {
  const both = rule.protocols && rule.protocols.includes("http") && rule.protocols.includes("https");
  const protocols = both ? "http(s)" : rule.protocols && rule.protocols.length ? rule.protocols.join("/") : "?";
  const domain = rule.domain || "(no domain yet)";
  return `${protocols}://${domain}, ${portsText(rule.ports)}: ${listText(rule.methods || ["GET", "HEAD", "POST"])}`;
}

function portsText(ports) {
  if (!ports) return "default ports";
  if (ports.length === 1 && ports[0] === "*") return "any port";
  return `port${ports.length === 1 ? "" : "s"} ${ports.join(", ")}`;
}

function listText(list) {
  return list && list.length ? list.join(", ") : "(none)";
}

function valueText(key, value) {
  if (key === "ports") return portsText(value);
  if (key === "paths" && (!value || (value.length === 1 && value[0] === "/*"))) return "every path";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (Array.isArray(value)) return listText(value);
  if (value === undefined || value === null) return "(default)";
  return String(value);
}

/** Every key filled the way GET fills it, so a draft compares equal to what it would become. */
function normal(rule) {
  const filled = {
    protocols: ["https"],
    ports: null,
    paths: ["/*"],
    methods: ["GET", "HEAD", "POST"],
    request_headers: [],
    expose_headers: [],
    allow_credentials: false,
    allow_caching: false,
    max_age: 600,
    allow_any_origin: false,
    allow_private_network: false,
    ...rule,
  };
  if (filled.ports === undefined || filled.ports === null) {
    // no ports: each protocol's default port; any port for the loopback names and *
    const loopback = ["localhost", "127.0.0.1", "[::1]", "*"].includes(String(filled.domain).toLowerCase());
    filled.ports = loopback ? ["*"] : null;
  }
  return filled;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** A rule in lines: its summary, then each other key that is not at its default. */
function described(rule) {
  const filled = normal(rule);
  const plain = normal({domain: filled.domain});
  const shownAlready = ["domain", "protocols", "ports", "methods"];
  const rest = KEYS.filter((key) => !shownAlready.includes(key) && !same(filled[key], plain[key]));
  return [summary(filled), ...rest.map((key) => `${LABELS[key]}: ${valueText(key, filled[key])}`)];
}
const canonical = (rule) => JSON.stringify(KEYS.map((key) => normal(rule)[key]));

/** Whether two rule lists mean the same (keys left out compare equal to their defaults). */
export function sameRules(a, b) {
  return a.length === b.length && a.every((rule, index) => canonical(rule) === canonical(b[index]));
}

/**
 * What changed from the rule list *before* to *after*, as readable entries:
 * {kind: "added" | "removed" | "changed" | "moved", title, lines: [text]}.
 * Identical rules are paired first, then rules for the same domain.
 */
export function diff(before, after) {
  const left = before.map((rule, index) => ({rule, index, paired: false}));
  const pairs = new Array(after.length).fill(null);
  after.forEach((rule, index) => {
    const twin = left.find((item) => !item.paired && canonical(item.rule) === canonical(rule));
    if (twin) {
      twin.paired = true;
      pairs[index] = twin;
    }
  });
  after.forEach((rule, index) => {
    if (pairs[index]) return;
    const domain = (rule.domain || "").toLowerCase();
    const kin = left.find((item) => !item.paired && (item.rule.domain || "").toLowerCase() === domain);
    if (kin) {
      kin.paired = true;
      pairs[index] = kin;
    }
  });
  const entries = [];
  after.forEach((rule, index) => {
    const pair = pairs[index];
    const name = `Rule ${index + 1} (${rule.domain || "no domain"})`;
    if (!pair) {
      entries.push({kind: "added", title: `${name} added`, lines: described(rule)});
      return;
    }
    const was = normal(pair.rule);
    const now = normal(rule);
    const lines = KEYS.filter((key) => !same(was[key], now[key])).map(
      (key) => `${LABELS[key]}: ${valueText(key, was[key])} → ${valueText(key, now[key])}`,
    );
    if (lines.length) {
      entries.push({kind: "changed", title: `${name} changed`, lines});
    } else if (pair.index !== index) {
      entries.push({kind: "moved", title: `${name} moved from position ${pair.index + 1}`, lines: []});
    }
  });
  for (const item of left) {
    if (!item.paired) {
      entries.push({
        kind: "removed",
        title: `Rule ${item.index + 1} (${item.rule.domain || "no domain"}) removed`,
        lines: described(item.rule),
      });
    }
  }
  return entries;
}
