// @ts-check
// The console's shell: sign-in with an API key (kept in sessionStorage: gone when the tab
// closes), the navigation, and a hash router (#/imports/ID …) so every page has a URL and the
// server serves one page.
import { html, render } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Api, ApiFailure } from './api.js';
import { ImportDetailPage } from './pages/import-detail.js';
import { ImportsPage } from './pages/imports.js';
import { ProductsPage } from './pages/products.js';
import { StatsPage } from './pages/stats.js';
import { UploadPage } from './pages/upload.js';
import { WebhooksPage } from './pages/webhooks.js';
import { ErrorMessage } from './ui.js';

const KEY_STORAGE = 'lading.apiKey';

/**
 * @typedef {object} PageProps
 * @property {Api} api the signed-in client
 * @property {(hash: string) => void} navigate go to another page (e.g. "#/imports/ID")
 * @property {string[]} params the route's parameters
 */

/** @type {{path: RegExp, title: string, nav?: string, page: (props: PageProps) => any}[]} */
const ROUTES = [
  { path: /^#\/upload$/, title: 'Upload', nav: '#/upload', page: UploadPage },
  { path: /^#\/imports$/, title: 'Imports', nav: '#/imports', page: ImportsPage },
  { path: /^#\/imports\/([0-9a-f-]{36})$/, title: 'Import', page: ImportDetailPage },
  { path: /^#\/webhooks$/, title: 'Webhooks', nav: '#/webhooks', page: WebhooksPage },
  { path: /^#\/products$/, title: 'Products', nav: '#/products', page: ProductsPage },
  { path: /^#\/stats$/, title: 'Statistics and alerts', nav: '#/stats', page: StatsPage },
];

/** @param {{onSignIn: (api: Api) => void}} props */
function SignIn({ onSignIn }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [busy, setBusy] = useState(false);
  /** @param {Event} event */
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const api = new Api(key.trim());
    try {
      await api.json('/v1/imports?limit=1'); // proves the key before anything is shown
      sessionStorage.setItem(KEY_STORAGE, api.key);
      onSignIn(api);
    } catch (failure) {
      setError(failure instanceof ApiFailure && failure.status === 401 ? new ApiFailure(401, failure.code, 'This API key is not valid (or was revoked).', failure.requestId) : failure);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="sign-in" id="main">
    <h1>Lading</h1>
    <p>Bulk product imports into PostgreSQL. Sign in with an API key: <code>npm start</code> prints the dev key, <code>npm run apikey -- create --tenant NAME</code> makes one.</p>
    <form onSubmit=${submit}>
      <label for="api-key">API key</label>
      <input id="api-key" type="password" autocomplete="off" required value=${key} onInput=${(/** @type {any} */ e) => setKey(e.currentTarget.value)} />
      <button type="submit" disabled=${busy || !key.trim()}>${busy ? 'Checking…' : 'Sign in'}</button>
    </form>
    <${ErrorMessage} error=${error} />
  </main>`;
}

function App() {
  const stored = sessionStorage.getItem(KEY_STORAGE);
  const [api, setApi] = useState(/** @type {Api | null} */ (stored ? new Api(stored) : null));
  const [hash, setHash] = useState(location.hash || '#/upload');

  useEffect(() => {
    const onHash = () => setHash(location.hash || '#/upload');
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  const route = ROUTES.find((r) => r.path.test(hash));
  const shownFor = useRef(/** @type {Api | null | undefined} */ (undefined));
  useEffect(() => {
    document.title = `${route?.title ?? 'Not found'} · Lading`;
    // Just signed in (or reloaded signed in): focus stays at the top, so the first Tab is the skip link.
    if (api && shownFor.current !== api) {
      shownFor.current = api;
      return;
    }
    shownFor.current = api;
    // A new page: focus its heading so keyboard and screen-reader users start there.
    document.querySelector('main h1')?.setAttribute('tabindex', '-1');
    /** @type {HTMLElement | null} */ (document.querySelector('main h1'))?.focus({ preventScroll: true });
  }, [hash, api]);

  if (!api) return html`<${SignIn} onSignIn=${setApi} />`;
  /** @param {string} target */
  const navigate = (target) => {
    location.hash = target;
  };
  const signOut = () => {
    sessionStorage.removeItem(KEY_STORAGE);
    setApi(null);
  };
  const params = route ? (route.path.exec(hash) ?? []).slice(1) : [];
  /** @param {Event} event the hash is the router's: "#main" must not navigate, only move focus */
  const skipToMain = (event) => {
    event.preventDefault();
    const main = document.getElementById('main');
    main?.setAttribute('tabindex', '-1');
    main?.focus();
  };
  return html`
    <a class="skip-link" href="#main" onClick=${skipToMain}>Skip to content</a>
    <header class="top">
      <span class="brand">Lading</span>
      <nav aria-label="Main">
        <ul>
          ${ROUTES.filter((r) => r.nav).map(
            (r) => html`<li><a href=${r.nav} aria-current=${hash.startsWith(/** @type {string} */ (r.nav)) ? 'page' : undefined}>${r.title}</a></li>`,
          )}
        </ul>
      </nav>
      <button type="button" class="link" onClick=${signOut}>Sign out</button>
    </header>
    <main id="main">
      ${route ? html`<${route.page} key=${hash} api=${api} navigate=${navigate} params=${params} />` : html`<h1>Not found</h1><p>No page at ${hash}. <a href="#/upload">Upload a file</a>.</p>`}
    </main>
    <div id="announcer" class="visually-hidden" aria-live="polite" role="status"></div>
  `;
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(html`<${App} />`, root);
}
