"""Reports an outlet's owner reads: sales, top-ups, points, vouchers, attendance, machines (seed 000, 004).

  * `queries`  — one function per report, `(conn, period, outlet_id) -> list[dict]` of plain rows
                 (REPORTS lists them with their columns); `run` adds the period, totals and the
                 kept buckets;
  * `periods`  — a report's period, its hours, days or months in the site's time zone, and the
                 SQL that buckets a row on SQLite and PostgreSQL;
  * `cache`    — the rows of closed buckets kept, so a season's report reads its past days;
  * `render`   — CSV, and a PDF with its chart (fpdf2);
  * `schedule` — the outlets' report contacts, e-mailed schedules and the hub's mailer.

docs/reports.md says what each report counts and from where.
"""
