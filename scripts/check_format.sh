#!/usr/bin/env bash
# Lists the C++ and CUDA files (*.cpp *.h *.cu *.cuh under src include kernels tests bench tools) whose formatting
# differs from what clang-format makes of them with .clang-format, and exits 1 when there is any; .ci/run runs it.
# The style is Debian's clang-format 14 (scripts/setup.sh installs it): another version may break some lines
# differently.
#
#   scripts/check_format.sh          check; exit 0 when every file is formatted, 1 listing those that are not
#   scripts/check_format.sh --fix    reformat those files in place
#   environment: CLANG_FORMAT (the binary, default clang-format)
set -euo pipefail
cd "$(dirname "$0")/.."
clang_format="${CLANG_FORMAT:-clang-format}"
fix=0
case "${1:-}" in
  "") ;;
  --fix) fix=1 ;;
  *) echo "check_format.sh: unknown argument '$1' (usage: scripts/check_format.sh [--fix])" >&2; exit 2 ;;
esac
if ! command -v "$clang_format" >/dev/null; then
  echo "check_format.sh: $clang_format not found (Debian package clang-format; scripts/setup.sh installs it)" >&2
  exit 2
fi

mapfile -t files < <(find src include kernels tests bench tools -type f \
                       \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | LC_ALL=C sort)
# --dry-run reports each place that would change as FILE:LINE:COL: warning: code should be clang-formatted.
report="$("$clang_format" --style=file --dry-run "${files[@]}" 2>&1)" || {
  echo "check_format.sh: $clang_format failed:" >&2
  echo "$report" >&2
  exit 2
}
mapfile -t unformatted < <(sed -n 's/^\(.*\):[0-9]*:[0-9]*: [a-z]*: code should be clang-formatted.*/\1/p' \
                             <<<"$report" | LC_ALL=C sort -u)

if [ ${#unformatted[@]} -eq 0 ]; then
  echo "check_format: ${#files[@]} files, all formatted ($("$clang_format" --version))"
  exit 0
fi
if [ "$fix" = 1 ]; then
  "$clang_format" --style=file -i "${unformatted[@]}"
  echo "check_format: reformatted ${#unformatted[@]} of ${#files[@]} files"
  exit 0
fi
echo "check_format: ${#unformatted[@]} of ${#files[@]} files are not formatted as .clang-format says" \
     "($("$clang_format" --version)):"
printf '  %s\n' "${unformatted[@]}"
echo "check_format: fix with: bash scripts/check_format.sh --fix"
exit 1
