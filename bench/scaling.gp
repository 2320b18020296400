# How each operation's cost grows with its work, from xen9p-bench's scaling.dat:
# one panel per family, µs per op against the size, both axes logarithmic
# (a slope of 1 is linear growth).
# Usage: gnuplot -e "datafile='scaling.dat'; outfile='scaling.png'; ncols=N" scaling.gp
set terminal pngcairo size 1400,1000 noenhanced font ",10"
set output outfile
set datafile missing "-"
set logscale xy
set grid
set key top left
set xlabel "entries in the directory (walk of many components: components)"
set ylabel "µs per op"
set multiplot layout 2,2 title "xen9p-bench: cost of one operation as its work grows"
do for [block=0:3] {
    set title columnheader(1)
    plot for [i=2:ncols] datafile index block using 1:i with linespoints title columnheader(i)
}
unset multiplot
