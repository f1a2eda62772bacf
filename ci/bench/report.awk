# Turns ci/bench.sh's results (tab-separated: row id, load, server, messages, seconds,
# messages/s, VmHWM in kB, round, server CPU µs per message) into one Markdown row per load,
# servers side by side: medians over the rounds, the ratio's median and range over the rounds,
# and the highest peak RSS. A server that was not measured shows "skipped".

{
  if (!($1 in load)) { order[++rows] = $1; load[$1] = $2 }
  key = $1 SUBSEP $3
  n = ++count[key]
  rate[key, n] = $6
  cpu[key, n] = $9
  round_rate[$1, $3, $8] = $6
  if (!(key in rss) || $7 > rss[key]) rss[key] = $7
  if ($8 > last_round[$1]) last_round[$1] = $8
}

# Median of values[key, 1..n].
function median(values, key, n,    i, j, tmp, sorted) {
  for (i = 1; i <= n; i++) sorted[i] = values[key, i]
  for (i = 2; i <= n; i++)
    for (j = i; j > 1 && sorted[j - 1] > sorted[j]; j--) { tmp = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = tmp }
  return n % 2 ? sorted[(n + 1) / 2] : (sorted[n / 2] + sorted[n / 2 + 1]) / 2
}

function cell(id, server, kind,    key) {
  key = id SUBSEP server
  if (!(key in count)) return "skipped"
  if (kind == "rate") return sprintf("%.0f", median(rate, key, count[key]))
  if (kind == "cpu") return sprintf("%.1f", median(cpu, key, count[key]))
  return sprintf("%.1f", rss[key] / 1024)
}

function ratio_cell(id,    r, n, lo, hi, value, ratios) {
  n = 0
  for (r = 1; r <= last_round[id]; r++) {
    if (!((id, "fake-smtp", r) in round_rate) || !((id, "smtp-sink", r) in round_rate)) continue
    if (round_rate[id, "smtp-sink", r] <= 0) continue
    value = round_rate[id, "fake-smtp", r] / round_rate[id, "smtp-sink", r]
    ratios["x", ++n] = value
    if (n == 1 || value < lo) lo = value
    if (n == 1 || value > hi) hi = value
  }
  if (n == 0) return "n/a"
  if (n == 1) return sprintf("%.2f", lo)
  return sprintf("%.2f (%.2f–%.2f)", median(ratios, "x", n), lo, hi)
}

END {
  print "| load | fake-smtp msg/s | smtp-sink msg/s | ratio fake-smtp/smtp-sink | fake-smtp CPU µs/msg | smtp-sink CPU µs/msg | fake-smtp peak RSS (MiB) | smtp-sink peak RSS (MiB) |"
  print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for (i = 1; i <= rows; i++) {
    id = order[i]
    printf "| %s: %s | %s | %s | %s | %s | %s | %s | %s |\n", id, load[id],
      cell(id, "fake-smtp", "rate"), cell(id, "smtp-sink", "rate"), ratio_cell(id),
      cell(id, "fake-smtp", "cpu"), cell(id, "smtp-sink", "cpu"),
      cell(id, "fake-smtp", "rss"), cell(id, "smtp-sink", "rss")
  }
}
