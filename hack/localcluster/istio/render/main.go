// Command istio-render prints the objects Istio's own installer renders
// (operator/pkg/render, what `istioctl manifest generate` uses, with the Helm
// charts embedded in the istio.io/istio module), filtered by kind. The local
// test bed uses it for the per-revision ConfigMaps istiod needs before it
// starts and, for adoption tests, for the chart's own injection webhooks and
// revision tags — so that neither is ever hand-written.
//
//	istio-render [--kind K]... [--set path=value]...
//
// Writes a multi-document YAML stream to stdout, objects sorted by kind and name.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"istio.io/istio/operator/pkg/render"
	"istio.io/istio/operator/pkg/util/clog"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var kinds, sets list
	flag.Var(&kinds, "kind", "keep only objects of this kind (repeatable; default: all)")
	flag.Var(&sets, "set", "an installer setting path=value, as istioctl's --set (repeatable)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "istio-render: unexpected argument %q (use --set and --kind)\n", flag.Arg(0))
		os.Exit(2)
	}
	if err := run(os.Stdout, kinds, sets); err != nil {
		fmt.Fprintf(os.Stderr, "istio-render: %v\n", err)
		os.Exit(1)
	}
}

func run(out io.Writer, kinds, sets []string) error {
	keep := map[string]bool{}
	for _, k := range kinds {
		keep[k] = true
	}
	logger := clog.NewConsoleLogger(io.Discard, os.Stderr, nil)
	manifestSets, _, err := render.GenerateManifest(nil, sets, false, nil, logger)
	if err != nil {
		return err
	}
	type doc struct{ kind, name, content string }
	var docs []doc
	for _, set := range manifestSets {
		for _, m := range set.Manifests {
			if len(keep) > 0 && !keep[m.GetKind()] {
				continue
			}
			docs = append(docs, doc{m.GetKind(), m.GetName(), m.Content})
		}
	}
	sort.Slice(docs, func(i, j int) bool {
		if docs[i].kind != docs[j].kind {
			return docs[i].kind < docs[j].kind
		}
		return docs[i].name < docs[j].name
	})
	for _, d := range docs {
		if _, err := fmt.Fprintf(out, "---\n%s\n", strings.TrimRight(d.content, "\n")); err != nil {
			return err
		}
	}
	return nil
}
