"""The statistical forecasters users trust, on one series: Holt-Winters (statsmodels ExponentialSmoothing: additive or
multiplicative season, with or without a (damped) trend, picked by AIC) and a small seasonal ARIMA grid (picked by AIC),
fitted on all but the last H values and scored on those H.

Usage: statsmodels_peer.py CSV COLUMN H SEASON [holt_winters|sarima]   (prints JSON: rmse per method and the forms picked)
Requires Debian's python3-statsmodels.
"""
import csv
import itertools
import json
import sys
import warnings

import numpy as np
from statsmodels.tsa.holtwinters import ExponentialSmoothing
from statsmodels.tsa.statespace.sarimax import SARIMAX

warnings.filterwarnings("ignore")
path, column, horizon, season = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
only = sys.argv[5] if len(sys.argv) > 5 else None
with open(path, newline="") as f:
    y = np.array([float(row[column]) for row in csv.DictReader(f)])
train, test = y[:-horizon], y[-horizon:]


def rmse(f):
    return float(np.sqrt(np.mean((np.asarray(f) - test) ** 2)))


# The forms the measurement picked among: an additive trend, damped or not, with an additive or multiplicative
# season (no season when the series has none). Without a trend, AIC prefers forms that forecast a trending series flat.
best_hw = None
for trend, damped, seasonal in itertools.product(["add"] if only != "sarima" else [], [False, True], [None, "add", "mul"]):
    if seasonal is None and season >= 2:
        continue
    if seasonal is not None and (season < 2 or len(train) < 2 * season + 2):
        continue
    if seasonal == "mul" and train.min() <= 0:
        continue
    try:
        fit = ExponentialSmoothing(train, trend=trend, damped_trend=damped, seasonal=seasonal,
                                   seasonal_periods=season if seasonal else None).fit()
    except Exception:  # noqa: BLE001 - a form that does not fit is not a candidate
        continue
    if best_hw is None or fit.aic < best_hw[0]:
        best_hw = (fit.aic, f"trend={trend} damped={damped} seasonal={seasonal}", fit.forecast(horizon))

best_sarima = None
seasonal_orders = [(0, 0, 0, 0)] + ([(P, D, Q, season) for P, D, Q in itertools.product([0, 1], [0, 1], [0, 1])] if season >= 2 else [])
for (p, d, q), so in itertools.product(itertools.product([0, 1, 2], [0, 1], [0, 1, 2]) if only != "holt_winters" else [], seasonal_orders):
    try:
        fit = SARIMAX(train, order=(p, d, q), seasonal_order=so, trend="c" if d == 0 and so[1] == 0 else "n").fit(disp=False)
    except Exception:  # noqa: BLE001
        continue
    if np.isfinite(fit.aic) and (best_sarima is None or fit.aic < best_sarima[0]):
        best_sarima = (fit.aic, f"order={(p, d, q)} seasonal={so}", fit.forecast(horizon))

result = {
    "holt_winters": {"rmse": rmse(best_hw[2]), "form": best_hw[1]} if best_hw else None,
    "sarima": {"rmse": rmse(best_sarima[2]), "form": best_sarima[1]} if best_sarima else None,
    "last_value": rmse(np.full(horizon, train[-1])),
    "seasonal_naive": rmse([train[len(train) - season + (h % season)] for h in range(horizon)]) if season >= 2 else None,
}
print(json.dumps(result))
