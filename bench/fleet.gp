# Many guests, from xen9p-bench's fleet.dat: one panel each for the time to
# attach every guest, memory, aggregate read throughput and the light guest's
# p99 latency, against the number of guests (logarithmic).
# Usage: gnuplot -e "datafile='fleet.dat'; outfile='fleet.png'" fleet.gp
set terminal pngcairo size 1400,1000 noenhanced font ",10"
set output outfile
set datafile missing "-"
set logscale x 2
set grid
set key top left
set xlabel "guests, one device each"
set multiplot layout 2,2 title "xen9p-bench: xen9pd on the simulated platform with many guests"
set title "time from the daemon's start to every guest attached"
set ylabel "s"
plot datafile using 1:2 with linespoints title "attach all"
set title "memory"
set ylabel "MiB"
plot datafile using 1:3 with linespoints title "supervisor VmRSS idle", \
     datafile using 1:4 with linespoints title "largest worker VmRSS idle", \
     datafile using 1:5 with linespoints title "largest worker VmHWM", \
     datafile using 1:6 with linespoints title "all workers PSS idle"
set title "every guest reading at once"
set ylabel "MiB/s"
set y2label "k ops/s"
set y2tics
plot datafile using 1:7 with linespoints title "sequential (MiB/s)", \
     datafile using 1:8 axes x1y2 with linespoints title "4 KiB random, qd1 each (k ops/s)"
unset y2tics
unset y2label
set title "one light guest's 4 KiB reads at qd1: p99"
set ylabel "µs"
plot datafile using 1:9 with linespoints title "alone", \
     datafile using 1:10 with linespoints title "while the others read"
unset multiplot
