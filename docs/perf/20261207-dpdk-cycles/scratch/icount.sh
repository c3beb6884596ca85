# icount.sh BIN FAM -> instructions per process() call
f=$(mktemp); valgrind --tool=callgrind --callgrind-out-file=$f ./$1 syns$2.pcap $2 1000 >/dev/null 2>&1
callgrind_annotate --inclusive=yes $f 2>/dev/null | grep 'process(' | head -1 | awk '{gsub(",","",$1); printf "%.1f\n", $1/160000}'; rm -f $f
