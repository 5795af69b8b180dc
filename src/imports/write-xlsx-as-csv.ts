import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { stringify } from 'csv-stringify/sync';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import yauzl from 'yauzl';

// An .xlsx workbook is a ZIP archive of XML parts. This reads the few parts an import needs —
// the workbook (sheet names, date system), its relationships, the styles (which cells are dates),
// the shared strings and one worksheet — straight from the archive (yauzl: random access through
// the central directory, so the worksheet is never spooled and a damaged archive is an error,
// not a hang) with a streaming XML parser (saxes), and writes the worksheet as a UTF-8 CSV.
// Memory stays bounded whatever the sheet holds: rows stream through, and the shared strings
// (every distinct text of the workbook) are kept in a file beside the output, not in memory.

export type XlsxConversion = {
  /** The uploaded workbook. */
  source: string;
  /** Where the CSV is written (the caller renames it once complete). */
  target: string;
  /** Worksheet name; null: the first visible worksheet. */
  sheet: string | null;
  /** Sheet row where the header is looked for (the first non-empty row from there on). */
  headerRow: number;
  /** Shared strings kept in memory before the rest go to a file (estimated heap bytes); 8 MB by default. */
  stringsMemoryBudget?: number;
};

export type XlsxConverted = { sheet: string; rows: number };

/** A problem with the file itself (not a workbook, damaged, no such sheet): the import fails with its message. */
export class WorkbookError extends Error {}

/** Excel's own limits: a worksheet has at most 1,048,576 rows and 16,384 columns (A…XFD). */
const MAX_SHEET_ROWS = 1_048_576;
const MAX_SHEET_COLUMNS = 16_384;
/** The workbook, relationship and style parts are read whole; real ones are KBs. */
const MAX_SMALL_PART_CHARS = 32 * 1024 * 1024;

export const NOT_A_WORKBOOK =
  'The file is a ZIP archive but not an Excel workbook (.xlsx): save the sheet as .xlsx or as CSV and upload that';

const damaged = (detail: string) =>
  new WorkbookError(
    `The Excel workbook could not be read (${detail}): it may be damaged or incomplete; save it again from Excel or LibreOffice and upload it, or upload it as CSV`,
  );

/** An operating-system error (disk, permissions): worth a retry, unlike anything about the file's content. */
const isSystemError = (error: unknown) =>
  error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';

/** Writes one worksheet of the workbook as CSV: one line per sheet row, so CSV line N is sheet row N. */
export async function writeXlsxAsCsv(job: XlsxConversion): Promise<XlsxConverted> {
  const zip = await openZip(job.source);
  const strings = new SharedStrings(`${job.target}.strings`, job.stringsMemoryBudget ?? 8 * 1024 * 1024);
  try {
    const workbook = await readWorkbook(zip);
    const sheet = pickWorksheet(workbook.worksheets, job.sheet);
    const dateStyles = workbook.stylesPart ? await readDateStyles(zip, workbook.stylesPart) : [];
    if (workbook.sharedStringsPart) await readSharedStrings(zip, workbook.sharedStringsPart, strings);
    strings.finish();
    const rows = await writeWorksheet(zip, sheet, job, { strings, dateStyles, date1904: workbook.date1904 });
    return { sheet: sheet.name, rows };
  } catch (error) {
    if (error instanceof WorkbookError || isSystemError(error)) throw error;
    throw damaged(error instanceof Error ? error.message : String(error));
  } finally {
    strings.close();
    zip.file.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The archive

type Zip = { file: yauzl.ZipFile; entries: Map<string, yauzl.Entry> };

async function openZip(source: string): Promise<Zip> {
  let file: yauzl.ZipFile | undefined;
  const entries = new Map<string, yauzl.Entry>();
  try {
    file = await yauzl.openPromise(source, { lazyEntries: true, autoClose: false });
    // Part names are case-insensitive in an Office file.
    for await (const entry of file.eachEntry()) entries.set(entry.fileName.toLowerCase(), entry);
  } catch (error) {
    file?.close();
    if (isSystemError(error)) throw error;
    throw new WorkbookError(
      `The file starts like a ZIP archive (an .xlsx workbook is one) but cannot be read as one (${(error as Error).message}): it may be damaged or incomplete; save it again and upload it, or upload it as CSV`,
    );
  }
  return { file, entries };
}

/** A part's text as it inflates, decoded as UTF-8 across chunk boundaries. */
async function* readPart(zip: Zip, name: string): AsyncGenerator<string> {
  const entry = zip.entries.get(name.toLowerCase());
  if (!entry) throw damaged(`the part ${name} is missing`);
  const stream: Readable = await zip.file.openReadStreamPromise(entry);
  const decoder = new StringDecoder('utf8');
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) yield decoder.write(chunk);
    yield decoder.end();
  } finally {
    stream.destroy();
  }
}

/** Parses one XML part as it streams, calling the handlers for each element (names without a namespace prefix). */
async function parseXml(
  zip: Zip,
  name: string,
  handlers: {
    open(tag: string, attributes: Record<string, string>): void;
    close?(tag: string): void;
    text?(text: string): void;
    /** Called after each chunk: work that may wait (writing out what the chunk produced). */
    flush?(): Promise<void>;
  },
  limit = Infinity,
): Promise<void> {
  const parser = new SaxesParser();
  parser.on('opentag', (tag: SaxesTagPlain) => handlers.open(localName(tag.name), tag.attributes));
  if (handlers.close) parser.on('closetag', (tag) => handlers.close!(localName(tag.name)));
  if (handlers.text) parser.on('text', handlers.text);
  let size = 0;
  try {
    for await (const text of readPart(zip, name)) {
      size += text.length;
      if (size > limit) throw damaged(`the part ${name} is larger than ${limit} characters`);
      parser.write(text);
      await handlers.flush?.();
    }
    parser.close();
  } catch (error) {
    if (error instanceof WorkbookError || isSystemError(error)) throw error;
    throw damaged(`${name}: ${(error as Error).message}`);
  }
}

const localName = (name: string) => name.slice(name.indexOf(':') + 1);

/** Attribute by local name (`r:id` is `id` in the relationships namespace, whatever its prefix). */
function prefixedAttribute(attributes: Record<string, string>, local: string): string | undefined {
  for (const [key, value] of Object.entries(attributes)) {
    if (key.includes(':') && localName(key) === local) return value;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The workbook: its worksheets, date system and the parts they refer to

type Worksheet = { name: string; part: string; hidden: boolean };
type Workbook = { worksheets: Worksheet[]; date1904: boolean; stylesPart?: string; sharedStringsPart?: string };
type Relationship = { type: string; target: string };

const REL_TYPE = (type: string) => (rel: Relationship) => rel.type.endsWith(`/${type}`);

async function readWorkbook(zip: Zip): Promise<Workbook> {
  // The package's relationships name the workbook part; xl/workbook.xml by convention.
  const packageRels = zip.entries.has('_rels/.rels') ? await readRelationships(zip, '') : new Map<string, Relationship>();
  const workbookPart = [...packageRels.values()].find(REL_TYPE('officeDocument'))?.target ?? 'xl/workbook.xml';
  if (!zip.entries.has(workbookPart.toLowerCase())) throw new WorkbookError(NOT_A_WORKBOOK);

  const rels = await readRelationships(zip, workbookPart);
  const sheets: { name: string; relId: string | undefined; hidden: boolean }[] = [];
  let date1904 = false;
  let root: string | undefined;
  await parseXml(
    zip,
    workbookPart,
    {
      open(tag, attributes) {
        root ??= tag;
        if (tag === 'workbookPr') date1904 = attributes.date1904 === '1' || attributes.date1904 === 'true';
        else if (tag === 'sheet') {
          sheets.push({
            name: attributes.name ?? '',
            relId: prefixedAttribute(attributes, 'id'),
            hidden: attributes.state === 'hidden' || attributes.state === 'veryHidden',
          });
        }
      },
    },
    MAX_SMALL_PART_CHARS,
  );
  // Another Office document (a .docx names word/document.xml as its main part).
  if (root !== 'workbook') throw new WorkbookError(NOT_A_WORKBOOK);
  // Chart sheets and macro sheets are listed too; only worksheets hold cells.
  const worksheets = sheets.flatMap(({ name, relId, hidden }) => {
    const rel = relId === undefined ? undefined : rels.get(relId);
    return rel && REL_TYPE('worksheet')(rel) ? [{ name, part: rel.target, hidden }] : [];
  });
  const relList = [...rels.values()];
  return {
    worksheets,
    date1904,
    stylesPart: relList.find(REL_TYPE('styles'))?.target,
    sharedStringsPart: relList.find(REL_TYPE('sharedStrings'))?.target,
  };
}

/** A part's relationships (`dir/_rels/name.rels`), targets resolved to part names; '' is the package's. */
async function readRelationships(zip: Zip, part: string): Promise<Map<string, Relationship>> {
  const dir = path.posix.dirname(part);
  const relsPart = part === '' ? '_rels/.rels' : path.posix.join(dir, '_rels', `${path.posix.basename(part)}.rels`);
  const rels = new Map<string, Relationship>();
  if (!zip.entries.has(relsPart.toLowerCase())) return rels;
  await parseXml(
    zip,
    relsPart,
    {
      open(tag, attributes) {
        if (tag !== 'Relationship' || !attributes.Id || !attributes.Target || attributes.TargetMode === 'External') return;
        const target = attributes.Target.startsWith('/')
          ? attributes.Target.slice(1)
          : path.posix.join(part === '' ? '' : dir, attributes.Target);
        rels.set(attributes.Id, { type: attributes.Type ?? '', target: path.posix.normalize(target) });
      },
    },
    MAX_SMALL_PART_CHARS,
  );
  return rels;
}

function pickWorksheet(worksheets: Worksheet[], wanted: string | null): Worksheet {
  if (worksheets.length === 0) throw new WorkbookError('The Excel workbook has no worksheet to import');
  if (wanted === null) return worksheets.find((sheet) => !sheet.hidden) ?? worksheets[0]!;
  // Excel treats sheet names case-insensitively.
  const found =
    worksheets.find((sheet) => sheet.name === wanted) ??
    worksheets.find((sheet) => sheet.name.toLowerCase() === wanted.trim().toLowerCase());
  if (!found) {
    throw new WorkbookError(
      `The workbook has no worksheet named "${wanted}" (sheet); its worksheets are: ${worksheets.map((sheet) => `"${sheet.name}"`).join(', ')}`,
    );
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Styles: a number is a date when its cell's number format is one

/** For each cell format (the `s` of a cell), whether its number format shows a date or time. */
async function readDateStyles(zip: Zip, part: string): Promise<boolean[]> {
  const customFormats = new Map<string, string>();
  const cellFormats: string[] = [];
  let inCellXfs = false;
  await parseXml(
    zip,
    part,
    {
      open(tag, attributes) {
        if (tag === 'numFmt' && attributes.numFmtId) customFormats.set(attributes.numFmtId, attributes.formatCode ?? '');
        else if (tag === 'cellXfs') inCellXfs = true;
        else if (tag === 'xf' && inCellXfs) cellFormats.push(attributes.numFmtId ?? '0');
      },
      close(tag) {
        if (tag === 'cellXfs') inCellXfs = false;
      },
    },
    MAX_SMALL_PART_CHARS,
  );
  return cellFormats.map((id) => {
    const code = customFormats.get(id);
    return code === undefined ? BUILT_IN_DATE_FORMATS.has(Number(id)) : isDateFormat(code);
  });
}

/** Excel's built-in number formats that show dates or times (14–22, 45–47; 27–36 and 50–58 in East Asian locales). */
const BUILT_IN_DATE_FORMATS = new Set([14, 15, 16, 17, 18, 19, 20, 21, 22, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 45, 46, 47, 50, 51, 52, 53, 54, 55, 56, 57, 58]);

/** A format code shows a date or time when, quoted text, escapes and [colour/locale] sections aside, it has d, m, y, h or s. */
function isDateFormat(code: string): boolean {
  const bare = code.replace(/"[^"]*"|\\.|_.|\*.|\[[^\]]*\]/g, '');
  return /[dmyhs]/i.test(bare) && !/^general$/i.test(bare.trim());
}

// ---------------------------------------------------------------------------------------------
// Shared strings: every distinct text of the workbook, referred to by index from the cells

async function readSharedStrings(zip: Zip, part: string, strings: SharedStrings): Promise<void> {
  let text = '';
  let inText = false;
  let phonetic = 0; // inside <rPh>: a reading guide (furigana), not part of the value
  await parseXml(zip, part, {
    open(tag) {
      if (tag === 'si') text = '';
      else if (tag === 't' && phonetic === 0) inText = true;
      else if (tag === 'rPh') phonetic++;
    },
    text(value) {
      if (inText) text += value;
    },
    close(tag) {
      if (tag === 't') inText = false;
      else if (tag === 'rPh') phonetic--;
      else if (tag === 'si') strings.add(unescapeOoxml(text)); // rich text: its runs' texts, joined
    },
  });
}

/** OOXML writes characters XML cannot hold (a CR, say) as `_xHHHH_`, and a literal `_x` as `_x005F_x`. */
function unescapeOoxml(text: string): string {
  if (!text.includes('_x')) return text;
  return text.replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/**
 * The shared strings. The first ones are kept in memory, up to a budget (8 MB: a catalogue's
 * colours, categories and statuses, and a first 200K or so skus); past it they go to a file, appended in order and read back by
 * index with one positioned read (recently used ones cached). A workbook of a million distinct
 * product descriptions costs a few MB of offsets here, not hundreds of MB of strings.
 */
class SharedStrings {
  /** Estimated heap bytes the in-memory strings may take (UTF-8 length plus a string's overhead). */
  private readonly memoryBudget: number;
  private readonly memory: string[] = [];
  private memoryBytes = 0;

  private readonly path: string;
  private fd: number | undefined;
  /** Strings in the file (their indices follow the in-memory ones), and the file's size. */
  private count = 0;
  private size = 0;
  /** End offset of each string in the file, in blocks of 64K (no copying as they grow). */
  private readonly ends: Float64Array[] = [];
  private pending = Buffer.allocUnsafe(1 << 20);
  private pendingLength = 0;
  private readBuffer = Buffer.allocUnsafe(64 * 1024);
  private readonly cache = new Map<number, string>();

  constructor(path: string, memoryBudget: number) {
    this.path = path;
    this.memoryBudget = memoryBudget;
  }

  add(text: string): void {
    const bytes = Buffer.byteLength(text);
    if (this.fd === undefined && this.memoryBytes + bytes + 32 <= this.memoryBudget) {
      this.memory.push(text);
      this.memoryBytes += bytes + 32;
      return;
    }
    this.fd ??= openSync(this.path, 'w+');
    if (this.pendingLength + bytes > this.pending.length) this.flush();
    if (bytes > this.pending.length) writeSync(this.fd, text, this.size);
    else this.pendingLength += this.pending.write(text, this.pendingLength);
    this.size += bytes;
    const block = this.count >>> 16;
    if (block === this.ends.length) this.ends.push(new Float64Array(1 << 16));
    this.ends[block]![this.count & 0xffff] = this.size;
    this.count++;
  }

  /** Everything added is on disk: lookups may start. */
  finish(): void {
    this.flush();
    this.pending = Buffer.alloc(0);
  }

  get(index: number): string {
    if (index >= 0 && index < this.memory.length) return this.memory[index]!;
    const at = index - this.memory.length;
    if (!(at >= 0 && at < this.count)) {
      throw damaged(`a cell refers to shared string ${index}, but the workbook has ${this.memory.length + this.count}`);
    }
    const cached = this.cache.get(at);
    if (cached !== undefined) return cached;
    const start = at === 0 ? 0 : this.end(at - 1);
    const length = this.end(at) - start;
    if (length > this.readBuffer.length) this.readBuffer = Buffer.allocUnsafe(length);
    const read = length === 0 ? 0 : readSync(this.fd!, this.readBuffer, 0, length, start);
    const text = this.readBuffer.toString('utf8', 0, read);
    if (this.cache.size >= 4096) this.cache.clear();
    this.cache.set(at, text);
    return text;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.path, { force: true });
  }

  private end(index: number): number {
    return this.ends[index >>> 16]![index & 0xffff]!;
  }

  private flush(): void {
    if (this.pendingLength === 0 || this.fd === undefined) return;
    writeSync(this.fd, this.pending, 0, this.pendingLength, this.size - this.pendingLength);
    this.pendingLength = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// The worksheet, row by row, as CSV

type CellContext = { strings: SharedStrings; dateStyles: boolean[]; date1904: boolean };

/**
 * Streams the worksheet's rows into the CSV. Rows the file leaves out (empty ones) become empty
 * lines, which the CSV reader skips, so CSV line N is sheet row N and a rejected record's line is
 * its row in the spreadsheet (until a cell holding a line break: its record spans two lines).
 * Columns stay aligned: empty cells are written empty, and every row from the header on is padded
 * to the header's width (its last non-empty cell); cells right of it are kept only when not empty
 * (that record is then rejected for having more fields than the header).
 */
async function writeWorksheet(zip: Zip, sheet: Worksheet, job: XlsxConversion, context: CellContext): Promise<number> {
  const out = await open(job.target, 'w');
  try {
    let csv = '';
    let lastRow = 0;
    let width: number | undefined;
    let rows: string[][] = [];

    let inSheetData = false;
    let cells: string[] = [];
    let nextColumn = 1;
    let cell: { column: number; type: string; style: number } | undefined;
    let value = '';
    let formula = '';
    let hasValue = false;
    let reading: 'value' | 'formula' | undefined;
    let inInlineString = false;
    let phonetic = 0;

    const endRow = (rowNumber: number) => {
      // Empty rows the file leaves out: an empty line each.
      for (let gap = lastRow + 1; gap < rowNumber; gap++) rows.push([]);
      lastRow = rowNumber;
      let last = cells.length;
      while (last > 0 && !cells[last - 1]) last--;
      if (last > 0 && width === undefined && rowNumber >= job.headerRow) width = last;
      const length = last === 0 ? 0 : Math.max(last, width ?? 0);
      const fields = new Array<string>(length);
      for (let i = 0; i < length; i++) fields[i] = cells[i] ?? '';
      rows.push(fields);
    };

    let rowNumber = 0;
    await parseXml(zip, sheet.part, {
      open(tag, attributes) {
        switch (tag) {
          case 'sheetData':
            inSheetData = true;
            break;
          case 'row': {
            if (!inSheetData) break;
            rowNumber = attributes.r === undefined ? lastRow + 1 : Number(attributes.r);
            if (!Number.isInteger(rowNumber) || rowNumber <= lastRow || rowNumber > MAX_SHEET_ROWS) {
              throw damaged(`row number ${attributes.r} after row ${lastRow}`);
            }
            cells = [];
            nextColumn = 1;
            break;
          }
          case 'c': {
            if (!inSheetData) break;
            const column = attributes.r === undefined ? nextColumn : columnNumber(attributes.r);
            if (!(column >= 1 && column <= MAX_SHEET_COLUMNS)) throw damaged(`cell reference ${attributes.r}`);
            cell = { column, type: attributes.t ?? 'n', style: attributes.s === undefined ? 0 : Number(attributes.s) };
            value = '';
            formula = '';
            hasValue = false;
            break;
          }
          case 'v':
            if (cell) {
              reading = 'value';
              value = '';
              hasValue = true;
            }
            break;
          case 'f':
            if (cell) reading = 'formula';
            break;
          case 'is':
            if (cell) inInlineString = true;
            break;
          case 'rPh':
            phonetic++;
            break;
          case 't':
            if (cell && inInlineString && phonetic === 0) {
              reading = 'value';
              hasValue = true;
            }
            break;
        }
      },
      text(text) {
        if (reading === 'value') value += text;
        else if (reading === 'formula') formula += text;
      },
      close(tag) {
        switch (tag) {
          case 'v':
          case 't':
          case 'f':
            reading = undefined;
            break;
          case 'is':
            inInlineString = false;
            break;
          case 'rPh':
            phonetic--;
            break;
          case 'c':
            if (cell) {
              cells[cell.column - 1] = cellText(cell.type, cell.style, hasValue ? value : undefined, formula, context);
              nextColumn = cell.column + 1;
              cell = undefined;
            }
            break;
          case 'row':
            if (inSheetData) endRow(rowNumber);
            break;
          case 'sheetData':
            inSheetData = false;
            break;
        }
      },
      async flush() {
        if (rows.length > 0) {
          csv += stringify(rows, CSV_OPTIONS);
          rows = [];
        }
        if (csv.length >= 1 << 20) {
          await out.write(csv);
          csv = '';
        }
      },
    });
    if (rows.length > 0) csv += stringify(rows, CSV_OPTIONS);
    await out.write(csv);
    await out.sync(); // on disk before the caller renames it into place
    return lastRow;
  } finally {
    await out.close();
  }
}

// csv-stringify quotes delimiters, quotes and line feeds; a lone CR too, or the reader would end the record there.
const CSV_OPTIONS = { record_delimiter: '\n', quoted_match: /\r/ };

/** "B12" → 2 */
function columnNumber(reference: string): number {
  let column = 0;
  for (let i = 0; i < reference.length; i++) {
    const code = reference.charCodeAt(i);
    if (code >= 65 && code <= 90) column = column * 26 + code - 64;
    else if (code >= 97 && code <= 122) column = column * 26 + code - 96;
    else break;
  }
  return column;
}

/**
 * A cell as text: what Excel shows without its number format. Formulas give their saved result;
 * one saved without a result (some generators do) gives its formula, `=B2*2`, rather than a
 * silent blank. Errors give their code (#N/A), so a typed column rejects them visibly.
 */
function cellText(type: string, style: number, value: string | undefined, formula: string, context: CellContext): string {
  if (value === undefined) return formula ? `=${formula}` : '';
  switch (type) {
    case 's':
      return context.strings.get(Number(value));
    case 'str':
    case 'inlineStr':
      return unescapeOoxml(value);
    case 'b':
      return value === '1' || value === 'true' ? 'TRUE' : 'FALSE';
    case 'e':
    case 'd': // an ISO 8601 date already (strict OOXML)
      return value;
    default: {
      const number = Number(value);
      if (value.trim() === '' || !Number.isFinite(number)) return value;
      if (context.dateStyles[style]) return excelDateText(number, context.date1904) ?? plainNumber(number);
      return plainNumber(number);
    }
  }
}

/**
 * The number as Excel shows it at full precision: 15 significant digits (so 0.1+0.2 is 0.3 and
 * 19.99 stays 19.99), the shortest text that reads back as it, and never an exponent.
 */
export function plainNumber(number: number): string {
  const text = String(Number(number.toPrecision(15)));
  if (!text.includes('e')) return text;
  const [mantissa = '', exponent = '0'] = text.split('e');
  const negative = mantissa.startsWith('-');
  const unsigned = negative ? mantissa.slice(1) : mantissa;
  const dot = unsigned.indexOf('.');
  const digits = unsigned.replace('.', '');
  const point = (dot === -1 ? unsigned.length : dot) + Number(exponent);
  const plain =
    point <= 0
      ? `0.${'0'.repeat(-point)}${digits}`
      : point >= digits.length
        ? digits + '0'.repeat(point - digits.length)
        : `${digits.slice(0, point)}.${digits.slice(point)}`;
  return (negative ? '-' : '') + plain;
}

const DAY_MS = 86_400_000;

/**
 * A date serial as ISO 8601: `2024-05-01` at midnight, else `2024-05-01T12:30:00Z` (Excel dates
 * have no time zone; the import reads them as UTC either way). Null outside years 1900–9999.
 */
export function excelDateText(serial: number, date1904: boolean): string | null {
  if (!(serial >= 0 && serial < 2_958_466)) return null;
  // Excel counts a 29 February 1900 that never was: serials before it are one day behind.
  const days = date1904 ? serial - 24_107 : serial - 25_569 + (serial < 60 ? 1 : 0);
  const ms = Math.round(days * DAY_MS);
  const iso = new Date(ms).toISOString();
  if (((ms % DAY_MS) + DAY_MS) % DAY_MS === 0) return iso.slice(0, 10);
  return iso.replace('.000Z', 'Z');
}
