// What a person does in the browser between the client's redirect to /authorize and the
// redirect back, done with plain HTTP: follow the authorization server's redirects, fill in its
// sign-in (or sign-up) form and allow on the consent page, with its cookies and CSRF fields.
// The forms are the server's real pages; nothing is skipped or faked.

/** Cookies of one origin, as a browser would keep them for these pages. */
class CookieJar {
  #cookies = new Map();

  /** Keeps the cookies a response sets (a past `Expires` or `Max-Age=0` removes one). */
  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const separator = pair.indexOf('=');
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      const removed = attributes.some((attribute) => /^\s*max-age\s*=\s*0\s*$/i.test(attribute)) || value === '';
      if (removed) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  /** The `Cookie` header, or undefined when there is none. */
  header() {
    if (this.#cookies.size === 0) return undefined;
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** The text of an HTML attribute value or text node, with the entities askama writes decoded. */
function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (_, entity) => {
    const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[entity.toLowerCase()];
    if (named) return named;
    return String.fromCodePoint(
      entity[1].toLowerCase() === 'x' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10),
    );
  });
}

/** The attributes of one HTML tag, decoded. */
function attributes(tag) {
  const found = {};
  for (const [, name, value] of tag.matchAll(/([a-zA-Z_:-]+)="([^"]*)"/g)) found[name] = decodeEntities(value);
  return found;
}

/** The page's POST form with this action: its hidden fields. Throws when the page has none. */
function form(html, action, page) {
  const match = html.match(new RegExp(`<form[^>]*action="${action}"[^>]*>([\\s\\S]*?)</form>`));
  if (!match) throw new Error(`expected a form posting to ${action} on ${page}, got:\n${html.slice(0, 2000)}`);
  const hidden = {};
  for (const [tag] of match[1].matchAll(/<input[^>]*>/g)) {
    const { type, name, value } = attributes(tag);
    if (type === 'hidden' && name) hidden[name] = value ?? '';
  }
  return hidden;
}

/** The text of the page's error box, if it shows one. */
function pageError(html) {
  const match = html.match(/class="error"[^>]*>([\s\S]*?)<\/(p|div)>/);
  return match ? decodeEntities(match[1].replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()) : undefined;
}

/**
 * Takes the authorization URL a client sent the person to and returns `callback`, the URL the
 * server redirects back to (`redirectUrl` with `code`, `state` and `iss`), and `steps`, the
 * requests made on the way. Signs in as
 * `email`/`password`, or with `signUp` creates that account on the sign-up page first; then
 * allows on the consent page. Any other page (an error page, a refused form) throws.
 */
export async function signInAndConsent(authorizationUrl, { email, password, signUp = false, redirectUrl }) {
  const jar = new CookieJar();
  const origin = new URL(authorizationUrl).origin;
  let next = { url: new URL(authorizationUrl), method: 'GET' };
  const seen = [];

  for (let step = 0; step < 20; step += 1) {
    const { url, method, fields } = next;
    seen.push(`${method} ${url.pathname}`);
    if (url.origin !== origin) throw new Error(`left the authorization server for ${url} (${seen.join(' → ')})`);
    const response = await fetch(url, {
      method,
      redirect: 'manual',
      headers: {
        ...(jar.header() ? { cookie: jar.header() } : {}),
        ...(fields ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: fields ? new URLSearchParams(fields) : undefined,
    });
    jar.store(response);

    if (response.status >= 300 && response.status < 400) {
      await response.arrayBuffer();
      const location = new URL(response.headers.get('location'), url);
      if (location.href.startsWith(redirectUrl)) return { callback: location, steps: seen };
      next = { url: location, method: 'GET' };
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) {
      throw new Error(`${method} ${url.pathname} answered ${response.status}: ${pageError(html) ?? html.slice(0, 500)}`);
    }
    const error = pageError(html);
    if (error) throw new Error(`${url.pathname} shows an error: ${error} (${seen.join(' → ')})`);

    if (html.includes('action="/login"')) {
      if (signUp) {
        // The "Create one" link carries the return address along.
        const link = html.match(/<a href="([^"]*\/signup[^"]*)"/);
        if (!link) throw new Error('the sign-in page offers no sign-up link');
        next = { url: new URL(decodeEntities(link[1]), url), method: 'GET' };
      } else {
        next = { url: new URL('/login', origin), method: 'POST', fields: { ...form(html, '/login', url.pathname), email, password } };
      }
    } else if (html.includes('action="/signup"')) {
      next = {
        url: new URL('/signup', origin),
        method: 'POST',
        fields: { ...form(html, '/signup', url.pathname), email, password, password_confirm: password },
      };
    } else if (html.includes('action="/authorize"')) {
      next = { url: new URL('/authorize', origin), method: 'POST', fields: { ...form(html, '/authorize', url.pathname), decision: 'allow' } };
    } else {
      throw new Error(`unexpected page at ${url.pathname}:\n${html.slice(0, 1000)}`);
    }
  }
  throw new Error(`no redirect back to the client after ${seen.join(' → ')}`);
}
