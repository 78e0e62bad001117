#!/usr/bin/env bash
# The main job, end to end on embedded defaults (SQLite, local MLflow store, in-process cache):
# install, ingest data, run the weekly pipeline (features -> train -> evaluate -> register -> promote ->
# batch predict -> monitor), then serve the API and the chat UI and print their URLs.
#
# Data: the team's real VN30 files in ../shared/data when they are there; otherwise the `auto` source
# (vnstock when online, else what the store holds, else a labelled synthetic market).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
SV=.venv/bin/stockvision
shared=../shared/data/vn30
if [ -z "${SV_SOURCE:-}" ] && [ -d "$shared" ]; then
  export SV_SOURCE=csv
  export SV_CSV_PATHS="$shared/vn30_constituents_daily_2016_2019.csv"
  export SV_REPLACE_SIMULATED=1  # real data replaces an earlier offline demo market
  echo "==> using the real VN30 data in $shared"
fi
"$SV" pipeline run
if [ "${SV_NO_SERVE:-0}" = "1" ]; then
  "$SV" models list
  exit 0
fi
# the live side on the in-process bus: stored days replayed through the stream worker, pushed on /ws
export SV_STREAM_ENABLED="${SV_STREAM_ENABLED:-1}"
exec "$SV" serve --host "${SV_API_HOST:-127.0.0.1}" --port "${SV_API_PORT:-8000}"
