# Turns ci/bench.sh's results (tab-separated: row id, load, server, messages, seconds,
# messages/s, VmHWM in kB) into one Markdown row per load, servers side by side.
# A server that was not measured shows "skipped".

{
  if (!($1 in load)) { order[++rows] = $1; load[$1] = $2 }
  rate[$1, $3] = $6
  rss[$1, $3] = $7
}

function cell(id, server, kind) {
  if (!((id, server) in rate)) return "skipped"
  if (kind == "rate") return sprintf("%.0f", rate[id, server])
  return sprintf("%.1f", rss[id, server] / 1024)
}

END {
  print "| load | fake-smtp msg/s | smtp-sink msg/s | ratio fake-smtp/smtp-sink | fake-smtp peak RSS (MiB) | smtp-sink peak RSS (MiB) |"
  print "| --- | ---: | ---: | ---: | ---: | ---: |"
  for (i = 1; i <= rows; i++) {
    id = order[i]
    ratio = "n/a"
    if (((id, "fake-smtp") in rate) && ((id, "smtp-sink") in rate) && rate[id, "smtp-sink"] > 0)
      ratio = sprintf("%.2f", rate[id, "fake-smtp"] / rate[id, "smtp-sink"])
    printf "| %s: %s | %s | %s | %s | %s | %s |\n", id, load[id],
      cell(id, "fake-smtp", "rate"), cell(id, "smtp-sink", "rate"), ratio,
      cell(id, "fake-smtp", "rss"), cell(id, "smtp-sink", "rss")
  }
}
