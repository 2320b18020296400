# How each operation's cost grows with its work, from xen9p-bench's scaling.dat:
# one panel per family, µs per op against the size, both axes logarithmic
# (a slope of 1 is linear growth). The blocks are readdir, walk_in, create_in
# and walk_depth, those with one size left out (a smoke run has the depths only:
# titles are counted from the last).
# Usage: gnuplot -e "datafile='scaling.dat'; outfile='scaling.png'; ncols=N" scaling.gp
set terminal pngcairo size 1400,1000 noenhanced font ",10"
set output outfile
set datafile missing "-"
set logscale xy
set grid
set key top left
set ylabel "µs per op"
titles = "readdir_(one_whole_listing) walk_to_one_entry create+close_in_the_directory walk_of_N_components"
xlabels = "entries_in_the_directory entries_in_the_directory entries_in_the_directory components"
stats datafile using 1 nooutput
blocks = STATS_blocks
set multiplot layout 2,2 title "xen9p-bench: cost of one operation as its work grows"
do for [block=0:blocks-1] {
    set title word(titles, 5 - blocks + block)
    set xlabel word(xlabels, 5 - blocks + block)
    plot for [i=2:ncols] datafile index block using 1:i with linespoints title columnheader(i)
}
unset multiplot
