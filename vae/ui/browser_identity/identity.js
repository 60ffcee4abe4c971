// Who this browser is, for its training jobs: a random secret in a first-party cookie, made
// once and shared by every tab, and read by the server when a page connects. Sent to Python
// only when Python says it has not got it (a first visit), so a page does not rerun for it.
const NAME = "vae_browser";
const VALID = /^[A-Za-z0-9_-]{22,64}$/;

function readCookie() {
  const entry = document.cookie.split("; ").find((c) => c.startsWith(NAME + "="));
  const value = entry && decodeURIComponent(entry.slice(NAME.length + 1));
  return value && VALID.test(value) ? value : null;
}

function newToken() {
  const bytes = crypto.getRandomValues(new Uint8Array(18)); // 144 bits
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export default function ({ data, setStateValue }) {
  let token = readCookie();
  if (!token) {
    token = newToken();
    const secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = `${NAME}=${token}; Path=/; Max-Age=${60 * 60 * 24 * 365}; SameSite=Strict${secure}`;
  }
  if (data && data.needed) setStateValue("token", token);
}
