"""FastLstm's out-of-the-box forecasts against statsmodels' Holt-Winters and SARIMA: each series' last H values are held
out, `fastlstm train` (defaults only, but --seed) and `fastlstm forecast --steps H` run on the rest, and the RMSE on the
held-out values is compared with the statistical methods' (statsmodels_peer.py) on the same split. Seeds 1, 2, 3; seed 1
twice, to check the output is identical. Writes a markdown table.

Usage: forecast_compare.py CLI_DLL OUT_MD
"""
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import time

cli, out_md = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
samples = os.path.join(here, "..", "samples")
# The best statistical RMSE the issue measured on the same splits (statsmodels 0.13): the bar is the better of that and ours.
ISSUE = {"air-passengers.csv": 32.5, "sunspots-monthly.csv": 14.8}
SERIES = [
    ("air passengers", "air-passengers.csv", "passengers", 24, 12),
    ("sunspots", "sunspots-monthly.csv", "sunspots", 24, 12),
    ("El Niño SST", "elnino-sst.csv", "sst_c", 24, 12),
    ("electrical equipment", "elec-equip.csv", "orders_index", 24, 12),
]


def read(path, column):
    with open(path, newline="") as f:
        return [float(row[column]) for row in csv.DictReader(f)]


def write(path, column, values):
    with open(path, "w", newline="") as f:
        f.write(f"{column}\n")
        f.writelines(f"{v!r}\n" for v in values)


def fastlstm(*args):
    r = subprocess.run(["dotnet", cli, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"fastlstm {' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


def forecast(train_csv, column, steps, seed, work, extra=()):
    model = os.path.join(work, f"m{seed}.model")
    start = time.perf_counter()
    log = fastlstm("train", "--csv", train_csv, "--column", column, "--out", model, "--seed", str(seed), *extra)
    seconds = time.perf_counter() - start
    chosen = next((line.split("chosen: ", 1)[1].split(";")[0] for line in log.splitlines() if line.startswith("chosen: ")), "?")
    out = os.path.join(work, f"f{seed}.csv")
    fastlstm("forecast", "--model", model, "--csv", train_csv, "--column", column, "--steps", str(steps), "--out", out,
             "--plot", os.path.join(work, f"f{seed}.png"))
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(out) as f:
        text = f.read()
    return [float(r["forecast"]) for r in rows], rows, seconds, chosen, text


def statistical(file, column, h, season):
    """statsmodels' results for one split, one method at a time; its SARIMA grid takes minutes on a long series, so they
    are kept in bench/results/statsmodels/ (delete a file to measure again)."""
    merged = {}
    for method in ("holt_winters", "sarima"):
        cache = os.path.join(os.path.dirname(out_md), "statsmodels", f"{os.path.splitext(file)[0]}-h{h}-s{season}-{method}.json")
        if not os.path.exists(cache):
            result = subprocess.run(["/usr/bin/python3", os.path.join(here, "statsmodels_peer.py"), os.path.join(samples, file), column, str(h), str(season), method],
                                    capture_output=True, text=True, check=True).stdout
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            with open(cache, "w") as fh:
                fh.write(result)
        with open(cache) as fh:
            part = json.load(fh)
        merged.update({k: v for k, v in part.items() if v is not None or k not in merged})
    return merged


def rmse(f, actual):
    return math.sqrt(sum((a - b) ** 2 for a, b in zip(f, actual)) / len(actual))


lines = ["| series | FastLstm (seed 1) | chosen | seeds 1 / 2 / 3 | spread | same output twice | Holt-Winters | SARIMA | issue's best | vs best statistical | seasonal naive | vs seasonal naive | 80 % / 95 % coverage | train time |",
         "|---|---:|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|"]
ratios = []
with tempfile.TemporaryDirectory() as work:
    for name, file, column, h, season in SERIES:
        y = read(os.path.join(samples, file), column)
        train, test = y[:-h], y[-h:]
        train_csv = os.path.join(work, "train.csv")
        write(train_csv, column, train)
        stats = statistical(file, column, h, season)
        runs = {seed: forecast(train_csv, column, h, seed, work) for seed in (1, 2, 3)}
        again = forecast(train_csv, column, h, 1, work)
        scores = {seed: rmse(r[0], test) for seed, r in runs.items()}
        best = min([s["rmse"] for s in (stats["holt_winters"], stats["sarima"]) if s] + ([ISSUE[file]] if file in ISSUE else []))
        ratio = scores[1] / best
        ratios.append(ratio)
        rows = runs[1][1]
        cover80 = sum(float(r["lower_80"]) <= a <= float(r["upper_80"]) for r, a in zip(rows, test)) / h
        cover95 = sum(float(r["lower_95"]) <= a <= float(r["upper_95"]) for r, a in zip(rows, test)) / h
        spread = (max(scores.values()) - min(scores.values())) / min(scores.values())
        sn = stats["seasonal_naive"]
        lines.append(f"| {name} | {scores[1]:.3f} | {runs[1][3]} | {scores[1]:.2f} / {scores[2]:.2f} / {scores[3]:.2f} | {100 * spread:.0f} % | "
                     f"{'yes' if again[4] == runs[1][4] else '**no**'} | {stats['holt_winters']['rmse']:.3f} | {stats['sarima']['rmse']:.3f} | {ISSUE.get(file, '—')} | "
                     f"**{ratio:.2f}** | {sn:.3f} | {scores[1] / sn:.2f} | {100 * cover80:.0f} % / {100 * cover95:.0f} % | {runs[1][2]:.0f} s |")

    # The DAX: no season; one-step and 20-step errors against the last value, from the same held-out 20 days.
    y = read(os.path.join(samples, "eu-stock-markets.csv"), "DAX")
    h = 20
    train, test = y[:-h], y[-h:]
    train_csv = os.path.join(work, "dax.csv")
    write(train_csv, "DAX", train)
    f, rows, seconds, chosen, _ = forecast(train_csv, "DAX", h, 1, work, ("--horizon", "20"))
    dax = (f"DAX (last 20 business days held out): chosen {chosen}; |error| at 1 day {abs(f[0] - test[0]):.1f} "
           f"(last value {abs(train[-1] - test[0]):.1f}), at 20 days {abs(f[-1] - test[-1]):.1f} (last value {abs(train[-1] - test[-1]):.1f}); "
           f"RMSE over the 20 days {rmse(f, test):.1f} (last value {rmse([train[-1]] * h, test):.1f}); trained in {seconds:.0f} s.")

geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
text = "\n".join(lines) + f"\n\nGeometric mean of RMSE / best statistical: **{geo:.2f}**.\n\n{dax}\n"
with open(out_md, "w") as fh:
    fh.write(text)
print(text)
