// The admin API (/admin/v1, on this page's own origin), with the token of this tab.
//
// The token lives in sessionStorage (this tab only, gone when it closes) and
// goes out as "Authorization: Bearer"; the API sets no cookies and the page
// sends none (credentials: "omit"), so there is nothing for CSRF to ride on.

const TOKEN_KEY = "websvc-admin-token";
// /admin/ -> /admin/v1/, also behind a proxy that mounts the admin app under a prefix.
export const API_BASE = new URL("v1/", location.href).pathname;

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** The path of a tenant's route: tenantPath("acme", "cors/revisions"). */
export function tenantPath(tenant, rest = "") {
  return `tenants/${encodeURIComponent(tenant)}${rest ? "/" + rest : ""}`;
}

/** The version an ETag names ("7" or W/"7"), or null. */
export function versionOf(etag) {
  const match = /^(?:W\/)?"(\d+)"$/.exec((etag || "").trim());
  return match ? Number(match[1]) : null;
}

/**
 * One call: {status, ok, etag, data}. data is the parsed JSON body (null for
 * none). Throws only when the API cannot be reached at all.
 */
export async function call(method, path, {body, ifMatch} = {}) {
  const headers = {Accept: "application/json"};
  const current = token.get();
  if (current) headers.Authorization = `Bearer ${current}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (ifMatch !== undefined && ifMatch !== null) headers["If-Match"] = `"${ifMatch}"`;
  const response = await fetch(API_BASE + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = {error: `the answer is not JSON (HTTP ${response.status})`};
    }
  }
  return {status: response.status, ok: response.ok, etag: response.headers.get("ETag"), data};
}

/** The one line of an error answer. */
export function errorText(result) {
  const said = result.data && typeof result.data.error === "string" ? result.data.error : "";
  return said ? `${said} (HTTP ${result.status})` : `HTTP ${result.status}`;
}
