"""Run churncal's generated SQL on real engines: DuckDB, Apache Spark (local mode) and
PostgreSQL (a throwaway server on loopback), and write each result as CSV.

Usage: run.py MANIFEST.json

The manifest (written by tests/engines.rs or benches/engines.sh) lists cases: a data file,
the column types to load it with, and jobs (one SQL file per engine, one output per
engine). Every engine loads the same typed table: DuckDB reads the file and types the
columns, writes it as Parquet for Spark, and its rows go to PostgreSQL by COPY. Floats are
written with Python's repr, which reads back to the same double. One JVM and one
PostgreSQL server serve every case; both are stopped at the end.
"""
import csv
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def fmt(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    return str(v)


def write_rows(path, names, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(names)
        n = 0
        for r in rows:
            w.writerow([fmt(v) for v in r])
            n += 1
    return n


DUCK_TYPES = {"double": "DOUBLE", "text": "VARCHAR", "date": "DATE", "keep": None}


def load_duckdb(con, case, work):
    """The typed table in DuckDB, with `_row` (1-based file order) first."""
    path = case["data"]
    t = case["table"]
    if path.endswith(".parquet"):
        src = f"read_parquet('{path}')"
    elif case.get("auto"):
        src = f"read_csv('{path}', header = true)"
    else:
        src = f"read_csv('{path}', all_varchar = true, header = true)"
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
    sel = []
    for c in cols:
        ty = DUCK_TYPES[case["types"].get(c, "keep")]
        q = '"' + c.replace('"', '""') + '"'
        if ty is None:
            sel.append(q)
        elif ty == "VARCHAR":
            sel.append(f"CAST({q} AS VARCHAR) AS {q}")
        else:
            sel.append(f"CAST(NULLIF(TRIM(CAST({q} AS VARCHAR)), '') AS {ty}) AS {q}")
    con.execute("SET preserve_insertion_order = true")
    con.execute(
        f'CREATE OR REPLACE TABLE "{t}" AS SELECT '
        + ("" if case.get("auto") else "CAST(row_number() OVER () AS BIGINT) AS _row, ")
        + ", ".join(sel)
        + f" FROM {src}"
    )
    pq = os.path.join(work, case["name"] + ".parquet")
    con.execute(f"COPY \"{t}\" TO '{pq}' (FORMAT PARQUET)")
    return pq


class Duck:
    name = "duckdb"

    def __init__(self, con):
        self.con = con

    def load(self, case, parquet):
        pass  # the table is already there

    def run(self, sql, out, sink):
        t0 = time.time()
        if sink == "parquet":
            body = sql.strip().rstrip(";")
            self.con.execute(f"COPY ({strip_comments(body)}) TO '{out}' (FORMAT PARQUET)")
            return time.time() - t0, None
        cur = self.con.execute(sql)
        names = [d[0] for d in cur.description]
        n = write_rows(out, names, iter(cur.fetchone, None))
        return time.time() - t0, n


def strip_comments(sql):
    return "\n".join(l for l in sql.splitlines() if not l.lstrip().startswith("--"))


class Spark:
    name = "spark"

    def __init__(self):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from pyspark.sql import SparkSession

        t0 = time.time()
        self.spark = (
            SparkSession.builder.master("local[2]")
            .appName("churncal-engines")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.driver.memory", os.environ.get("CHURNCAL_SPARK_MEMORY", "2g"))
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")
        log(f"spark {self.spark.version} started in {time.time() - t0:.1f} s")

    def load(self, case, parquet):
        self.spark.read.parquet(parquet).createOrReplaceTempView(case["table"])

    def run(self, sql, out, sink):
        t0 = time.time()
        df = self.spark.sql(strip_comments(sql).strip().rstrip(";"))
        if sink == "parquet":
            df.write.mode("overwrite").parquet(out)
            return time.time() - t0, None
        n = write_rows(out, df.columns, (tuple(r) for r in df.toLocalIterator()))
        return time.time() - t0, n

    def close(self):
        self.spark.stop()


PG_TYPES = {
    "DOUBLE": "double precision",
    "VARCHAR": "text",
    "DATE": "date",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
}


class Postgres:
    name = "postgres"

    def __init__(self, bindir, work):
        import psycopg

        self.dir = tempfile.mkdtemp(prefix="churncal-pg-", dir=work)
        self.data = os.path.join(self.dir, "data")
        as_user = []
        if os.geteuid() == 0:  # initdb refuses root: run the server as postgres
            shutil.chown(self.dir, "postgres")
            os.chmod(work, 0o755)
            as_user = ["runuser", "-u", "postgres", "--"]
        self.as_user = as_user
        self.bindir = bindir
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        t0 = time.time()
        subprocess.run(
            as_user + [f"{bindir}/initdb", "-D", self.data, "-U", "churncal", "-A", "trust",
                       "-E", "UTF8", "--locale", "C"],
            check=True, stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            as_user + [f"{bindir}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w",
                       "-o", f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off "
                       "-c shared_buffers=256MB -c work_mem=256MB", "start"],
            check=True, stdout=subprocess.DEVNULL,
        )
        self.conn = psycopg.connect(
            host="127.0.0.1", port=self.port, user="churncal", dbname="postgres", autocommit=True
        )
        log(f"postgres {self.conn.info.server_version} started on 127.0.0.1:{self.port} "
            f"in {time.time() - t0:.1f} s")

    def load_from(self, duck_con, case):
        t = case["table"]
        desc = duck_con.execute(f'DESCRIBE "{t}"').fetchall()
        cols = [(r[0], PG_TYPES.get(r[1], "text")) for r in desc]
        q = lambda c: '"' + c.replace('"', '""') + '"'
        with self.conn.cursor() as cur:
            cur.execute(f'DROP TABLE IF EXISTS "{t}"')
            cur.execute(f'CREATE TABLE "{t}" (' + ", ".join(f"{q(c)} {ty}" for c, ty in cols) + ")")
            names = ", ".join(q(c) for c, _ in cols)
            res = duck_con.execute(f'SELECT * FROM "{t}"')
            with cur.copy(f'COPY "{t}" ({names}) FROM STDIN') as cp:
                while True:
                    chunk = res.fetchmany(50000)
                    if not chunk:
                        break
                    for row in chunk:
                        cp.write_row(row)
            cur.execute(f'ANALYZE "{t}"')

    def load(self, case, parquet):
        pass

    def run(self, sql, out, sink):
        t0 = time.time()
        with self.conn.cursor(name=None) as cur:
            cur.execute(sql)
            names = [d.name for d in cur.description]
            if sink == "parquet":
                for _ in iter(lambda: cur.fetchmany(100000), []):
                    pass
                return time.time() - t0, None
            n = write_rows(out, names, iter(cur.fetchone, None))
        return time.time() - t0, n

    def close(self):
        try:
            self.conn.close()
        finally:
            subprocess.run(
                self.as_user + [f"{self.bindir}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"],
                check=False, stdout=subprocess.DEVNULL,
            )
            shutil.rmtree(self.dir, ignore_errors=True)


def main():
    manifest = json.load(open(sys.argv[1]))
    import duckdb

    work = manifest["work"]
    engines_wanted = manifest["engines"]
    con = duckdb.connect()
    engines = [Duck(con)]
    pg = spark = None
    timings = []
    try:
        if "spark" in engines_wanted:
            spark = Spark()
            engines.append(spark)
        if "postgres" in engines_wanted:
            pg = Postgres(manifest["postgres_bin"], work)
            engines.append(pg)
        for case in manifest["cases"]:
            t0 = time.time()
            # Raw tables (the snapshots job): read with DuckDB's own typing, then the same
            # typed tables everywhere.
            for name, path in case.get("tables", {}).items():
                raw = {"name": name, "table": name, "data": path, "types": {}, "auto": True}
                pq = load_duckdb(con, raw, work)
                for e in engines[1:]:
                    if e is pg:
                        pg.load_from(con, raw)
                    else:
                        e.load(raw, pq)
            if "data" not in case:
                parquet = None
                load_s = {e.name: 0.0 for e in engines}
            else:
                parquet = load_duckdb(con, case, work)
                load_s = {"duckdb": time.time() - t0}
                for e in engines[1:]:
                    t1 = time.time()
                    if e is pg:
                        pg.load_from(con, case)
                    else:
                        e.load(case, parquet)
                    load_s[e.name] = time.time() - t1
            for job in case["jobs"]:
                for e in engines:
                    if e.name not in job["sql"]:
                        continue
                    sql = open(job["sql"][e.name], encoding="utf-8").read()
                    secs, n = e.run(sql, job["out"][e.name], job.get("sink", "csv"))
                    timings.append({"case": case["name"], "job": job["name"], "engine": e.name,
                                    "seconds": secs, "rows": n, "load_seconds": load_s[e.name]})
                    log(f"{case['name']:>10} {job['name']:>8} {e.name:>8}: {secs:7.2f} s"
                        + ("" if n is None else f", {n} rows"))
    finally:
        if spark:
            spark.close()
        if pg:
            pg.close()
    json.dump(timings, open(manifest["timings"], "w"), indent=1)


if __name__ == "__main__":
    main()
