// @ts-check
// Products: the tenant's products by sku, searched by sku prefix (a range on the primary key) and
// by name (case-insensitive "contains"), a page at a time (keyset paging: GET /v1/products).
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { announce, ErrorMessage, formatNumber, formatTime, Pager, StatusBadge } from '../ui.js';

const PER_PAGE = 50;

/**
 * @typedef {object} Product
 * @property {string} sku
 * @property {string} name
 * @property {string | null} price
 * @property {string | null} currency
 * @property {number | null} quantity
 * @property {string | null} category
 * @property {string} status
 * @property {string} updated_at
 */

/** @param {import('../app.js').PageProps} props */
export function ProductsPage({ api }) {
  // What is typed, and the search being shown (changed only by submitting the form).
  const [skuInput, setSkuInput] = useState('');
  const [nameInput, setNameInput] = useState('');
  const [search, setSearch] = useState({ sku: '', name: '' });
  const [cursors, setCursors] = useState(/** @type {(string | null)[]} */ ([null]));
  const [page, setPage] = useState(/** @type {{items: Product[], next_cursor: string | null} | null} */ (null));
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    let stop = false;
    const query = new URLSearchParams({ limit: String(PER_PAGE) });
    if (search.sku) query.set('sku_prefix', search.sku);
    if (search.name) query.set('name', search.name);
    const cursor = cursors.at(-1);
    if (cursor) query.set('cursor', cursor);
    setLoading(true);
    api
      .json(`/v1/products?${query}`)
      .then((/** @type {{items: Product[], next_cursor: string | null}} */ answer) => {
        if (stop) return;
        setPage(answer);
        setError(null);
        const n = answer.items.length;
        announce(n === 0 ? 'No products found' : `Page ${cursors.length}: ${n} product${n === 1 ? '' : 's'}${answer.next_cursor ? ', more on the next page' : ''}`);
      })
      .catch((/** @type {unknown} */ failure) => {
        if (stop) return;
        setError(failure);
        announce(`Search failed: ${/** @type {Error} */ (failure).message}`);
      })
      .finally(() => {
        if (!stop) setLoading(false);
      });
    return () => {
      stop = true;
    };
  }, [api, search, cursors]);

  /** @param {Event} event */
  const submit = (event) => {
    event.preventDefault();
    setSearch({ sku: skuInput.trim(), name: nameInput.trim() });
    setCursors([null]);
  };
  const clear = () => {
    setSkuInput('');
    setNameInput('');
    setSearch({ sku: '', name: '' });
    setCursors([null]);
  };
  const searching = search.sku || search.name;

  return html`<h1>Products</h1>
    <form class="products-form" role="search" aria-label="Products" onSubmit=${submit}>
      <div class="row">
        <div>
          <label for="product-sku">SKU starts with</label>
          <input id="product-sku" type="search" autocomplete="off" spellcheck="false" maxlength="64" placeholder="e.g. TSHIRT-" value=${skuInput} onInput=${(/** @type {any} */ e) => setSkuInput(e.currentTarget.value)} />
        </div>
        <div>
          <label for="product-name">Name contains</label>
          <input id="product-name" type="search" autocomplete="off" maxlength="255" placeholder="e.g. shirt" value=${nameInput} onInput=${(/** @type {any} */ e) => setNameInput(e.currentTarget.value)} />
        </div>
        <button type="submit">Search</button>
        ${searching ? html`<button type="button" class="secondary" onClick=${clear}>Show all</button>` : null}
      </div>
      <p class="wh-muted">SKU prefixes are case-sensitive; names match in any case.</p>
    </form>
    <${ErrorMessage} error=${error} />
    ${page === null
      ? html`<p class="wh-muted">${loading ? 'Loading products…' : ''}</p>`
      : page.items.length === 0
        ? html`<p>${searching ? 'No products match this search.' : 'No products yet: upload a file to import some.'}</p>`
        : html`<div class="table-wrap" aria-busy=${loading ? 'true' : 'false'}>
              <table class="products-table">
                <caption class="visually-hidden">Products${search.sku ? `, SKU starting with ${search.sku}` : ''}${search.name ? `, name containing ${search.name}` : ''}</caption>
                <thead>
                  <tr>
                    <th scope="col">SKU</th><th scope="col">Name</th><th scope="col" class="num">Price</th><th scope="col">Currency</th>
                    <th scope="col" class="num">Quantity</th><th scope="col">Status</th><th scope="col">Updated</th>
                  </tr>
                </thead>
                <tbody>
                  ${page.items.map(
                    (p) => html`<tr key=${p.sku}>
                      <td><code>${p.sku}</code></td>
                      <td class="product-name">${p.name}</td>
                      <td class="num">${p.price ?? '—'}</td>
                      <td>${p.currency ?? '—'}</td>
                      <td class="num">${formatNumber(p.quantity)}</td>
                      <td><${StatusBadge} status=${p.status} /></td>
                      <td>${formatTime(p.updated_at)}</td>
                    </tr>`,
                  )}
                </tbody>
              </table>
            </div>
            ${cursors.length > 1 || page.next_cursor ? html`<${Pager} cursors=${cursors} next=${page.next_cursor} onPage=${setCursors} />` : null}`}`;
}
