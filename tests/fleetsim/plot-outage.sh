#!/bin/sh
# Draws CSRs created and API requests per minute around the API server outages of the outage-10m
# and outage-6h scenarios into a PNG (default tests/fleetsim/outage.png), with gnuplot
# (Debian: gnuplot-nox). Needs a built kubelet-certd-fleetsim (cmake --build --preset default
# --target kubelet-certd-fleetsim). Usage: plot-outage.sh [out.png]; NODES=n to change the fleet.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sim=${FLEETSIM:-$here/../../build/tests/kubelet-certd-fleetsim}
out=${1:-$here/outage.png}
nodes=${NODES:-10000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for scenario in outage-10m outage-6h; do
  "$sim" --nodes "$nodes" --scenario "$scenario" --series "$tmp/$scenario.tsv" >"$tmp/$scenario.json"
done

# One panel per scenario: the outage shaded; CSRs created, requests reaching the API server and
# connection attempts refused while it is down, per minute; the steady CSR rate of the hour
# before the outage, and twice it (the fleet's promise for the 10-minute outage).
gnuplot <<GNUPLOT
set terminal pngcairo size 1100,820 font "DejaVu Sans,10"
set output "$out"
set datafile separator "\t"
set key autotitle columnhead
set multiplot layout 2,1 title "kubelet-certd-fleetsim: $nodes nodes, 24-hour certificates issued together, API server down in the middle of the first rotation window" font ",11"

do for [i=1:2] {
  file = i == 1 ? "$tmp/outage-10m.tsv" : "$tmp/outage-6h.tsv"
  name = i == 1 ? "outage-10m: the API server down for 10 minutes" : "outage-6h: the API server down for 6 hours"
  stats file using (\$8 > 0 ? \$2 : 1/0) nooutput
  down_from = STATS_min
  down_to = STATS_max + 1.0/60
  stats [down_from-1:down_from] file using 2:3 nooutput
  steady = STATS_mean_y
  set object 1 rect from down_from, graph 0 to down_to, graph 1 fillcolor rgb "#f4cccc" fillstyle solid 1.0 noborder behind
  set title sprintf("%s (steady: %.0f CSRs/min in the hour before)", name, steady)
  set xlabel "hours since the fleet's certificates were issued"
  set ylabel "per minute"
  set xrange [down_from - 1 : down_to + 1]
  set logscale y
  set yrange [1:30000]
  set clip two
  set grid ytics
  if (i == 1) { set key top left box opaque } else { unset key }
  # A minute without any is drawn at the bottom edge (log scale), not left out.
  plot file using 2:(\$6 > 0 ? \$6 : 0.5) with steps lw 1 lc rgb "#999999" title "connection attempts refused (API server down)", \
       file using 2:(\$4 > 0 ? \$4 : 0.5) with steps lw 1 lc rgb "#4a7bb7" title "API requests (POST, GET, WATCH)", \
       file using 2:(\$3 > 0 ? \$3 : 0.5) with steps lw 2 lc rgb "#c0392b" title "CSRs created", \
       steady with lines dt 2 lw 1 lc rgb "#c0392b" title "steady CSR rate (the hour before the outage)", \
       2*steady with lines dt 3 lw 1 lc rgb "#000000" title "2 x steady (the promise after 10 minutes)"
}
unset multiplot
GNUPLOT
echo "wrote $out"
