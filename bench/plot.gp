# Ratio of each target to direct syscalls per workload, from xen9p-bench's plot.dat.
# Usage: gnuplot -e "datafile='plot.dat'; outfile='results.png'; ncols=N" plot.gp
set terminal pngcairo size 1400,700 noenhanced font ",10"
set output outfile
set title "xen9p-bench: throughput relative to direct syscalls (1.0 = the bench process's own syscalls)"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set ylabel "target / direct"
set grid ytics
set xtics rotate by -35 left
set key top right
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 linecolor rgb "#444444"
plot for [i=2:ncols] datafile using i:xtic(1) title columnheader(i)
