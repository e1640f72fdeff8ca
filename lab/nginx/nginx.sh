# shellcheck shell=bash disable=SC2154  # here, LAB, PKI, PY, die, spawn_in, port_of: lab/lab
# Sourced by lab/lab: one private nginx (Debian's nginx 1.22) serving the MTA-STS policies of the
# lab's MTA-STS domains over HTTPS on 127.0.0.1:<base+41> (port "mta-sts" in labdef.py), one
# server_name mta-sts.<domain> per domain, lab-CA certificate mta-sts.lab.test (SAN every
# policy host). Configured entirely in $OSTLS_LAB_DIR/nginx/ by lab/nginx/mtasts.py build
# (nginx.conf, www/, the cases and their DNS records); nothing is read from /etc/nginx.
# Runs unprivileged: as user www-data from the start (setpriv; no "user" directive, no port
# below 1024), in the foreground ("daemon off"), in its own session, supervised by lab/lab
# through the pid file written here. The cases are described in lab/README.md (MTA-STS).

NGX=$LAB/nginx
NGINX_USER=www-data

nginx_need() {
  if ! command -v nginx >/dev/null || ! id "$NGINX_USER" >/dev/null 2>&1; then
    die "nginx is not installed: run scripts/install-deps.sh"
  fi
  command -v curl >/dev/null || die "curl is not installed: run scripts/install-deps.sh"
}

nginx_write_config() {
  mkdir -p "$NGX/tls"
  # the policy hosts' certificate, and mx.lab.test's for the webpki-invalid case (a valid
  # lab-CA chain for the wrong name); nginx reads the keys after it started as www-data
  install -m 644 "$PKI/mta-sts.lab.test.certs.pem" "$NGX/tls/mta-sts.crt"
  install -m 600 "$PKI/mta-sts.lab.test.key" "$NGX/tls/mta-sts.key"
  cat "$PKI/mx.lab.test.pem" "$PKI/ca.pem" >"$NGX/tls/wrongname.crt"
  install -m 600 "$PKI/mx.lab.test.key" "$NGX/tls/wrongname.key"
  "$PY" "$here/nginx/mtasts.py" build --lab "$LAB" --port "$(port_of mta-sts)" \
    --dead-port "$(port_of mta-sts-dead)" --smtp-port "$(port_of labca)" ||
    die "lab/nginx/mtasts.py build failed"
  chown -R "$NGINX_USER:" "$NGX"
  chown root: "$NGX/nginx.conf"
  if ! runuser -u "$NGINX_USER" -- nginx -t -q -c "$NGX/nginx.conf" -p "$NGX/" \
      >"$NGX/configtest.out" 2>&1; then
    cat "$NGX/configtest.out" >&2
    die "nginx refuses $NGX/nginx.conf (or user $NGINX_USER cannot reach $NGX: put OSTLS_LAB_DIR where every user can reach it)"
  fi
}

# setsid execs setpriv, which execs nginx: $! is the nginx master's pid (daemon off).
nginx_start() {
  spawn_in "$NGX" "$NGX/start.out" setpriv --reuid="$NGINX_USER" \
    --regid="$NGINX_USER" --init-groups nginx -c "$NGX/nginx.conf" -p "$NGX/"
  echo $! >"$NGX/nginx.pid"
}

# SIGTERM: fast shutdown, the master stops its worker and exits.
nginx_stop_list() {
  echo "TERM $NGX/nginx.pid"
}

# nginx's worker renames itself "nginx: worker process" and keeps nothing of the lab directory
# in its command line or environment: it is ours if it lives in the master's session (the
# master is a session leader, see spawn_in). Used by lab/lab's sweep after the master is gone.
nginx_ours() {
  local pid=$1 comm sid master
  read -r comm 2>/dev/null </proc/"$pid"/comm || return 1
  [[ $comm == nginx ]] || return 1
  master=$(head -n1 "$NGX/nginx.pid" 2>/dev/null || true)
  [[ $master =~ ^[0-9]+$ ]] || return 1
  sid=$(awk '{ print $6 }' /proc/"$pid"/stat 2>/dev/null || true)
  [[ $sid == "$master" ]]
}
