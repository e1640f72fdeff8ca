#!/usr/bin/env bash
# Fails when a pure module includes an I/O or crypto library (STYLE habit 7).
set -u
src=${1:?usage: layering.sh SRC_DIR}
status=0
for dir in core protocols policy report; do
  if hits=$(grep -rnE '#include\s*[<"](openssl/|asio|curl/|sqlite3|libpq|unbound)' "$src/$dir"); then
    echo "layering violation in src/$dir:"; echo "$hits"; status=1
  fi
done
for dir in protocols policy; do
  if hits=$(grep -rnE '#include\s*"(tls|net|probe|apps)/' "$src/$dir"); then
    echo "src/$dir depends upward:"; echo "$hits"; status=1
  fi
done
# The pure parts of scan/ (input lines, shard, summary, HTML report, output file, progress line): no Asio, no TLS.
if hits=$(grep -nE '#include\s*[<"](openssl/|asio|curl/|sqlite3|libpq|unbound|net/|tls/)' \
    "$src"/scan/{html,input,shard,summary,output,progress}.{hpp,cpp}); then
  echo "layering violation in src/scan:"; echo "$hits"; status=1
fi
[ $status -eq 0 ] && echo "layering ok"
exit $status
