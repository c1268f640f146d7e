# Sourced by the experiment scripts: `run_all` reads "name flags..." lines on standard input and trains each
# run (handrnn train --data $data --out $out --name NAME --threads 1 $EXTRA FLAGS), JOBS at a time (default 1);
# EXTRA (default empty) adds flags to every run, e.g. EXTRA="--device cuda".
# A run with results.json is kept; an interrupted one continues from its last epoch (handrnn train --resume).
one() {  # name flags...
  local name=$1; shift
  [ -f "$out/$name/results.json" ] && return 0
  if [ -f "$out/$name/last.pt" ]; then
    handrnn train --resume "$out/$name" --threads 1 > /dev/null 2>&1 || echo "$(basename "$0"): $name failed" >&2
    return 0
  fi
  rm -rf "${out:?}/$name"
  # shellcheck disable=SC2086  # EXTRA holds several flags
  handrnn train --data "$data" --out "$out" --name "$name" --threads 1 ${EXTRA:-} "$@" > /dev/null 2>&1 \
    || echo "$(basename "$0"): $name failed" >&2
}
run_all() {
  export -f one; export data out EXTRA
  xargs -P "${JOBS:-1}" -I{} bash -c 'one {}'
}
