/*
 * The login page served at GET / on listen.https.  It is put together
 * once at start, so that the proxy settings it shows name the ports this
 * relay listens on; the host is the one the browser reached.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "common/err.h"
#include "relay/api.h"
#include "relay/config.h"
#include "relay/listen.h"

static const char head[] =
    "<!doctype html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Sallyport login</title>\n"
    "<style>\n"
    "body{font-family:system-ui,sans-serif;max-width:34em;margin:3em auto;"
    "padding:0 1em;color:#222}\n"
    "label{display:block;margin:.8em 0 .2em}\n"
    "input{font-size:1em;padding:.4em;width:100%;box-sizing:border-box}\n"
    "button{margin-top:1em;font-size:1em;padding:.5em 1.2em}\n"
    "pre{background:#f3f3f3;padding:.8em;white-space:pre-wrap;"
    "word-break:break-all}\n"
    ".err{color:#a00}\n"
    "</style></head>\n";

static const char rest[] =
    "<h1>Sallyport</h1>\n"
    "<form id=\"f\">\n"
    "<label for=\"user\">User</label>"
    "<input id=\"user\" name=\"user\" autocomplete=\"username\" required>\n"
    "<label for=\"password\">Password</label>"
    "<input id=\"password\" name=\"password\" type=\"password\" "
    "autocomplete=\"current-password\" required>\n"
    "<label for=\"otp\">One-time code</label>"
    "<input id=\"otp\" name=\"otp\" inputmode=\"numeric\" "
    "autocomplete=\"one-time-code\" pattern=\"[0-9]{6}\">\n"
    "<button type=\"submit\">Log in</button>\n"
    "</form>\n"
    "<p id=\"msg\" class=\"err\" role=\"alert\"></p>\n"
    "<div id=\"out\" hidden>\n"
    "<h2>Your access token</h2>\n"
    "<p>Valid until <span id=\"exp\"></span>, from this address only.</p>\n"
    "<pre id=\"tok\"></pre>\n"
    "<h2>Proxy settings</h2>\n"
    "<p>Use the token as the proxy password, with your user name:</p>\n"
    "<pre id=\"cfg\"></pre>\n"
    "</div>\n"
    "<script>\n"
    "const f=document.getElementById('f');\n"
    "f.addEventListener('submit',async e=>{e.preventDefault();\n"
    "const msg=document.getElementById('msg');msg.textContent='';\n"
    "const body=new URLSearchParams(new FormData(f));\n"
    "let r;try{r=await fetch('/v1/login',{method:'POST',body});}\n"
    "catch(x){msg.textContent='The relay did not answer.';return;}\n"
    "const j=await r.json().catch(()=>({}));\n"
    "if(!r.ok){msg.textContent=r.status==429?'Too many failed logins; '+"
    "'try again in '+j.retry_after+' s.':'Login failed.';return;}\n"
    "const u=document.getElementById('user').value,h=location.hostname,"
    "d=document.body.dataset;\n"
    "let c='';\n"
    "if(d.socks)c+='SOCKS5:       '+h+':'+d.socks+"
    "'  (user '+u+', password: the token)\\n';\n"
    "if(d.http)c+='HTTP CONNECT: '+h+':'+d.http+'\\n';\n"
    "c+='HTTPS proxy:  https://'+h+':'+(location.port||443)+'\\n';\n"
    "if(d.socks)c+='\\nFor example:\\ncurl --socks5-hostname '+h+':'+d.socks+"
    "' --proxy-user '+u+':'+j.token+' https://wiki.corp/';\n"
    "document.getElementById('tok').textContent=j.token;\n"
    "document.getElementById('exp').textContent=j.expires;\n"
    "document.getElementById('cfg').textContent=c;\n"
    "document.getElementById('out').hidden=false;f.hidden=true;});\n"
    "</script>\n"
    "</body></html>\n";

/* The port of a listen address, read as the listener reads it, or ""
   when the listener is off. */
static void port_of(const char *addr, char out[6]) {
  struct sockaddr_storage ss;
  unsigned port = 0;

  if (listen_parse_addr(addr, &ss) == 0)
    port = ntohs(ss.ss_family == AF_INET
                     ? ((const struct sockaddr_in *)&ss)->sin_port
                     : ((const struct sockaddr_in6 *)&ss)->sin6_port);
  out[0] = '\0';
  if (port != 0)
    snprintf(out, 6, "%u", port);
}

int api_login_page_build(const struct relay_listen *l, char **page,
                         size_t *len) {
  char socks[6], http[6], *p;
  size_t cap = sizeof(head) + sizeof(rest) + 64;
  int n;

  port_of(l->socks, socks);
  port_of(l->http, http);
  p = malloc(cap);
  if (p == NULL)
    return SP_ENOMEM;
  n = snprintf(p, cap, "%s<body data-socks=\"%s\" data-http=\"%s\">\n%s", head,
               socks, http, rest);
  if (n < 0 || (size_t)n >= cap) {
    free(p);
    return SP_ETOOBIG;
  }
  *page = p;
  *len = (size_t)n;
  return 0;
}
