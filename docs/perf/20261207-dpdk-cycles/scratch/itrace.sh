# itrace.sh BIN FAM : per-instruction execution counts in process() (per call), with disassembly
B=$1; F=$2
valgrind --tool=callgrind --dump-instr=yes --compress-pos=no --compress-strings=no --callgrind-out-file=it.out ./$B syns$F.pcap $F 1000 >/dev/null 2>&1
python3 - $B <<'PY'
import sys, re, subprocess
b = sys.argv[1]
cost = {}
infn = False
for line in open('it.out'):
    if line.startswith('fn='):
        infn = 'crab::lb_dpdk::process(' in line
        continue
    if line.startswith(('cfn=', 'calls=', 'cfi=', 'cfl=')):
        skipnext = line.startswith('calls=')
        continue
    if infn and line.startswith('0x'):
        parts = line.split()
        a = int(parts[0], 16)
        if len(parts) >= 3:
            cost[a] = cost.get(a, 0) + int(parts[2])
dis = subprocess.run(['objdump', '-d', '--no-show-raw-insn', '-C', b], capture_output=True, text=True).stdout
n = 160000
tot = 0
out = []
for l in dis.splitlines():
    m = re.match(r'\s+([0-9a-f]+):\s+(.*)', l)
    if m:
        a = int(m.group(1), 16)
        if a in cost and cost[a] >= n // 2:
            out.append(f"{cost[a]/n:5.2f} {a:x} {m.group(2)[:90]}")
            tot += cost[a] / n
print("\n".join(out))
print("total per call (>= 0.5 per call shown):", round(tot, 1))
PY
