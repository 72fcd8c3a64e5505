// The page's words in English and Bahasa Indonesia, the language choice (browser, then the
// switch, kept in localStorage) and the formatting of local times and numbers.

const STRINGS = {
  en: {
    loading: 'Loading…',
    logout: 'Log out',
    nav_scan: 'Scan',
    nav_events: 'Events',
    nav_stats: 'Statistics',
    login_title: 'Log in',
    username: 'Username',
    password: 'Password',
    login_button: 'Log in',
    session_expired: 'Your session expired: log in again',
    choose_event: 'Choose the event',
    event: 'Event',
    choose_option: 'Choose…',
    other_event: 'Other event…',
    event_id: 'Event ID',
    ticket: 'Ticket',
    checkin: 'Check in',
    undo: 'Undo',
    camera: 'Camera',
    stop_camera: 'Stop camera',
    gate: 'Gate',
    gate_placeholder: 'e.g. North',
    sent: 'Sent',
    new_event: 'New event',
    edit_event: 'Edit event',
    name: 'Name',
    venue: 'Venue',
    starts_at: 'Starts at',
    ends_at: 'Ends at',
    capacity: 'Capacity',
    create_event: 'Create event',
    save: 'Save',
    cancel: 'Cancel',
    edit: 'Edit',
    import_tickets: 'Import tickets',
    csv_file: 'CSV file',
    generate_tickets: 'Generate tickets',
    count: 'Count',
    category: 'Category',
    prefix: 'Prefix',
    generate: 'Generate',
    print_qr: 'Print QR codes',
    print: 'Print',
    close: 'Close',
    download_csv: 'Download CSV',
    // answers
    ans_checked_in: 'Checked in',
    ans_already: 'Already checked in',
    ans_by_at: 'by {by} at {at}',
    ans_unknown: 'Unknown ticket',
    ans_voided: 'Ticket voided',
    ans_full: 'Event is full',
    ans_queued: 'Saved, will be sent',
    ans_queued_unsaved: 'Not saved on this phone: keep this page open until it is sent',
    ans_undone: 'Check-in undone',
    ans_network: 'No answer from the service',
    // counts
    n_checked_in: '{n} checked in',
    of_capacity: ' of {c}',
    of_tickets: ' of {t} tickets',
    n_pending: '{n} pending',
    // notes and errors
    camera_insecure: 'The camera is off: browsers open the camera only on secure (https) pages. Typing and a hardware scanner still work.',
    camera_https_link: 'Open the https page',
    camera_cert_link: "the box's certificate",
    camera_https_and: ' (install {cert} on the phone first).',
    camera_unsupported: 'This browser cannot open a camera. Typing and a hardware scanner still work.',
    camera_failed: 'The camera could not be started: {msg}',
    choose_event_first: 'Choose the event first.',
    enter_ticket: 'Type or scan a ticket id.',
    no_connection: 'Cannot reach the service. Check the Wi-Fi and try again.',
    timed_out: 'The service did not answer in time.',
    service_error: 'The service answered {status}.',
    admin_required: 'Admin role required',
    events_none: 'No events yet.',
    ev_tickets: '{n} tickets',
    ev_checked_in: '{n} checked in',
    ev_no_start: 'no start time',
    tools_for: 'Tickets of: {name}',
    tools_none: 'Choose or create an event above to import, generate or print its tickets.',
    event_created: 'Event {id} created.',
    event_saved: 'Event {id} saved.',
    choose_file: 'Choose a CSV file first.',
    import_done: '{created} created, {updated} updated, {unchanged} unchanged',
    import_total: '{n} tickets in the event now.',
    row_error: 'Row {row}, {field}: {msg}',
    generated_n: '{n} new tickets:',
    print_empty: 'This event has no tickets to print.',
    print_more: 'The first {n} tickets are shown; print the rest from the API with ?offset=.',
    print_title: '{name}: tickets',
    // statistics
    st_tickets: 'Tickets',
    st_checked_in: 'Checked in',
    st_remaining: 'Remaining',
    st_capacity: 'Capacity',
    st_refused: 'Refused scans',
    st_by_gate: 'By gate',
    st_by_staff: 'By staff',
    st_first: 'First check-in',
    st_last: 'Last check-in',
    st_arrivals: 'Arrivals per 15 minutes',
    st_chart_label: 'Arrivals per 15 minutes: {list}',
    st_chart_empty: 'No check-ins yet.',
    st_no_gate: '(no gate)',
    st_none: '–',
    refused_unknown_ticket: 'Unknown ticket',
    refused_voided: 'Ticket voided',
    refused_already_checked_in: 'Already checked in',
    refused_capacity_reached: 'Event is full',
    downloaded: 'Saved as {file}.',
  },
  id: {
    loading: 'Memuat…',
    logout: 'Keluar',
    nav_scan: 'Pindai',
    nav_events: 'Kelola acara',
    nav_stats: 'Statistik',
    login_title: 'Masuk',
    username: 'Nama pengguna',
    password: 'Kata sandi',
    login_button: 'Masuk',
    session_expired: 'Sesi Anda sudah berakhir: silakan masuk lagi',
    choose_event: 'Pilih acara',
    event: 'Acara',
    choose_option: 'Pilih…',
    other_event: 'Acara lain…',
    event_id: 'ID acara',
    ticket: 'Tiket',
    checkin: 'Check-in',
    undo: 'Batalkan',
    camera: 'Kamera',
    stop_camera: 'Matikan kamera',
    gate: 'Pintu masuk',
    gate_placeholder: 'mis. Utara',
    sent: 'Terkirim',
    new_event: 'Acara baru',
    edit_event: 'Ubah acara',
    name: 'Nama',
    venue: 'Tempat',
    starts_at: 'Mulai',
    ends_at: 'Selesai',
    capacity: 'Kapasitas',
    create_event: 'Buat acara',
    save: 'Simpan',
    cancel: 'Batal',
    edit: 'Ubah',
    import_tickets: 'Impor tiket',
    csv_file: 'Berkas CSV',
    generate_tickets: 'Buat tiket otomatis',
    count: 'Jumlah',
    category: 'Kategori',
    prefix: 'Awalan kode',
    generate: 'Buat tiket',
    print_qr: 'Cetak kode QR',
    print: 'Cetak',
    close: 'Tutup',
    download_csv: 'Unduh CSV',
    ans_checked_in: 'Berhasil check-in',
    ans_already: 'Sudah check-in',
    ans_by_at: 'oleh {by} pukul {at}',
    ans_unknown: 'Tiket tidak dikenal',
    ans_voided: 'Tiket sudah dibatalkan',
    ans_full: 'Kuota acara sudah penuh',
    ans_queued: 'Tersimpan, akan dikirim',
    ans_queued_unsaved: 'Tidak tersimpan di HP ini: jangan tutup halaman ini sampai terkirim',
    ans_undone: 'Check-in dibatalkan',
    ans_network: 'Layanan tidak menjawab',
    n_checked_in: '{n} sudah masuk',
    of_capacity: ' dari {c}',
    of_tickets: ' dari {t} tiket',
    n_pending: '{n} belum terkirim',
    camera_insecure: 'Kamera tidak aktif: browser hanya mau membuka kamera di halaman aman (https). Ketik manual dan alat pemindai tetap bisa dipakai.',
    camera_https_link: 'Buka halaman https',
    camera_cert_link: 'sertifikat perangkat ini',
    camera_https_and: ' (pasang dulu {cert} di HP).',
    camera_unsupported: 'Browser ini tidak bisa membuka kamera. Ketik manual dan alat pemindai tetap bisa dipakai.',
    camera_failed: 'Kamera tidak bisa dinyalakan: {msg}',
    choose_event_first: 'Pilih acaranya dulu.',
    enter_ticket: 'Ketik atau pindai ID tiket.',
    no_connection: 'Tidak bisa terhubung ke layanan. Periksa Wi-Fi lalu coba lagi.',
    timed_out: 'Layanan tidak menjawab tepat waktu.',
    service_error: 'Layanan menjawab {status}.',
    admin_required: 'Hanya untuk admin',
    events_none: 'Belum ada acara.',
    ev_tickets: '{n} tiket',
    ev_checked_in: '{n} sudah masuk',
    ev_no_start: 'waktu mulai belum diisi',
    tools_for: 'Tiket untuk: {name}',
    tools_none: 'Pilih atau buat acara di atas untuk mengimpor, membuat atau mencetak tiketnya.',
    event_created: 'Acara {id} sudah dibuat.',
    event_saved: 'Acara {id} sudah disimpan.',
    choose_file: 'Pilih berkas CSV dulu.',
    import_done: '{created} baru, {updated} diperbarui, {unchanged} tidak berubah',
    import_total: 'Sekarang ada {n} tiket di acara ini.',
    row_error: 'Baris {row}, {field}: {msg}',
    generated_n: '{n} tiket baru:',
    print_empty: 'Acara ini belum punya tiket untuk dicetak.',
    print_more: 'Yang tampil {n} tiket pertama; sisanya bisa dicetak lewat API dengan ?offset=.',
    print_title: '{name}: tiket',
    st_tickets: 'Tiket',
    st_checked_in: 'Sudah masuk',
    st_remaining: 'Belum datang',
    st_capacity: 'Kapasitas',
    st_refused: 'Tiket ditolak',
    st_by_gate: 'Per pintu masuk',
    st_by_staff: 'Per panitia',
    st_first: 'Check-in pertama',
    st_last: 'Check-in terakhir',
    st_arrivals: 'Kedatangan per 15 menit',
    st_chart_label: 'Kedatangan per 15 menit: {list}',
    st_chart_empty: 'Belum ada yang check-in.',
    st_no_gate: '(tanpa pintu)',
    st_none: '–',
    refused_unknown_ticket: 'Tiket tidak dikenal',
    refused_voided: 'Tiket sudah dibatalkan',
    refused_already_checked_in: 'Sudah check-in',
    refused_capacity_reached: 'Kuota acara sudah penuh',
    downloaded: 'Tersimpan sebagai {file}.',
  },
};

const LANG_KEY = 'tixgo.lang';
const listeners = [];
let lang = initialLanguage();

function initialLanguage() {
  let saved = null;
  try { saved = localStorage.getItem(LANG_KEY); } catch { /* storage off */ }
  if (saved === 'en' || saved === 'id') return saved;
  const first = (navigator.languages && navigator.languages[0]) || navigator.language || 'en';
  const code = first.toLowerCase();
  return code === 'id' || code.startsWith('id-') || code === 'in' || code.startsWith('in-') ? 'id' : 'en';
}

export function language() { return lang; }

export function setLanguage(next) {
  lang = next === 'id' ? 'id' : 'en';
  try { localStorage.setItem(LANG_KEY, lang); } catch { /* storage off */ }
  apply(document);
  for (const fn of listeners) fn(lang);
}

export function onLanguage(fn) { listeners.push(fn); }

/** The text for `key` in the current language, with `{name}` filled from `params`. */
export function t(key, params) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

// Messages put on the page by `say`, written again in a new language while they still show.
const said = new Map();

/** Shows `text()` in `el`, and again after a language change unless `el` changed meanwhile. */
export function say(el, text) {
  const now = text();
  el.textContent = now;
  said.set(el, [text, el.textContent]);
}

/** Puts the current language on `<html lang>` and every `data-i18n` element under `root`. */
export function apply(root) {
  document.documentElement.lang = lang;
  for (const [el, [text, shown]] of said) {
    if (el.textContent !== shown) { said.delete(el); continue; }
    say(el, text);
  }
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
}

function locale() { return lang === 'id' ? 'id-ID' : 'en-GB'; }

const timeFormats = {};
/** `19:02` (English) or `19.02` (Indonesian): the device's local time of an RFC 3339 string. */
export function localTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const key = lang + 't';
  timeFormats[key] ??= new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return timeFormats[key].format(d);
}

/** The local date and time, the date left out when it is today. */
export function localDateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return localTime(iso);
  const sameYear = d.getFullYear() === now.getFullYear();
  const key = lang + (sameYear ? 'd' : 'y');
  timeFormats[key] ??= new Intl.DateTimeFormat(locale(), {
    day: 'numeric', month: 'short', ...(sameYear ? {} : { year: 'numeric' }),
  });
  return `${timeFormats[key].format(d)} ${localTime(iso)}`;
}

/** A count as plain digits (no grouping, so it reads the same as the API's number). */
export function number(n) {
  return String(n);
}
