// @ts-check
// The console's one way to the API: every call carries the API key, every failure becomes an
// ApiFailure with the API's own {code, message, requestId}, so pages show the server's words.

/** An error answered by the API (or a network failure, code "network_error"). */
export class ApiFailure extends Error {
  /**
   * @param {number} status HTTP status (0: no answer)
   * @param {string} code the API's error code
   * @param {string} message the API's message
   * @param {string} [requestId]
   */
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

/**
 * @param {Response} response
 * @returns {Promise<ApiFailure>}
 */
async function failureOf(response) {
  /** @type {any} */
  let body;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const error = body?.error;
  if (error?.code) return new ApiFailure(response.status, error.code, error.message, error.requestId);
  return new ApiFailure(response.status, 'http_error', `The server answered ${response.status} ${response.statusText}`);
}

/**
 * @typedef {object} UploadProgress
 * @property {number} loaded bytes sent
 * @property {number} total bytes to send
 */

/** A client bound to one API key. */
export class Api {
  /** @param {string} key */
  constructor(key) {
    this.key = key;
  }

  /**
   * @param {string} path e.g. "/v1/imports?limit=20"
   * @param {RequestInit} [init]
   * @returns {Promise<Response>} a 2xx response; anything else throws ApiFailure
   */
  async fetch(path, init = {}) {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${this.key}`);
    let response;
    try {
      response = await fetch(path, { ...init, headers });
    } catch (error) {
      throw new ApiFailure(0, 'network_error', `The server could not be reached (${/** @type {Error} */ (error).message})`);
    }
    if (!response.ok) throw await failureOf(response);
    return response;
  }

  /**
   * JSON in and out.
   * @param {string} path
   * @param {{method?: string, body?: unknown}} [options]
   * @returns {Promise<any>}
   */
  async json(path, options = {}) {
    /** @type {RequestInit} */
    const init = { method: options.method ?? 'GET' };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { 'content-type': 'application/json' };
    }
    const response = await this.fetch(path, init);
    return response.status === 204 ? undefined : response.json();
  }

  /**
   * A file upload with progress (fetch cannot report upload progress; XMLHttpRequest can).
   * @param {string} path
   * @param {Blob} body
   * @param {Record<string, string>} headers
   * @param {(progress: UploadProgress) => void} onProgress
   * @param {AbortSignal} [signal]
   * @returns {Promise<any>} the JSON answer
   */
  upload(path, body, headers, onProgress, signal) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open('POST', path);
      request.setRequestHeader('authorization', `Bearer ${this.key}`);
      for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
      request.responseType = 'json';
      request.upload.onprogress = (event) => onProgress({ loaded: event.loaded, total: event.lengthComputable ? event.total : body.size });
      request.onload = () => {
        const answer = request.response;
        if (request.status >= 200 && request.status < 300) return resolve(answer);
        const error = answer?.error;
        reject(error?.code ? new ApiFailure(request.status, error.code, error.message, error.requestId) : new ApiFailure(request.status, 'http_error', `The server answered ${request.status}`));
      };
      request.onerror = () => reject(new ApiFailure(0, 'network_error', 'The upload was interrupted: the server could not be reached'));
      request.onabort = () => reject(new ApiFailure(0, 'aborted', 'The upload was stopped'));
      signal?.addEventListener('abort', () => request.abort());
      request.send(body);
    });
  }

  /**
   * A live event stream (`/v1/events` or `/v1/imports/ID/events`). The key never goes in a URL:
   * a single-use ticket is fetched first (POST …/ticket) and passed as ?ticket=.
   * @param {string} path
   * @returns {Promise<WebSocket>}
   */
  async openEvents(path) {
    const { ticket } = await this.json(`${path}/ticket`, { method: 'POST' });
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return new WebSocket(`${scheme}//${location.host}${path}?ticket=${encodeURIComponent(ticket)}`);
  }
}
