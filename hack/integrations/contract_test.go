// Package integrations checks the status contract (README.md, "Status
// contract") with the real evaluators GitOps tools use, over MeshRevision
// objects as meshrev writes them (testdata/*.json, generated and kept in step
// by test/unit/policy/status-contract.test.ts):
//   - kstatus: sigs.k8s.io/cli-utils' status.Compute, as `kubectl wait`-style
//     tools and Flux's default health check use it;
//   - Argo CD: config/integrations/argocd/health.lua run in gopher-lua, the VM
//     Argo CD embeds, set up as Argo CD's util/lua sets it up (only the base,
//     table and package libraries; the object as the global `obj`; a table
//     whose `status` must be a known health code);
//   - Flux: config/integrations/flux/health-check-exprs.yaml evaluated with
//     cel-go in the environment fluxcd/pkg/runtime/cel builds, in the order
//     its StatusEvaluator applies (observedGeneration first, then inProgress,
//     failed, current; none true is InProgress).
//
// Run: make test-integrations (or `go test -v ./...` here).
package integrations

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	lua "github.com/yuin/gopher-lua"
	"gopkg.in/yaml.v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

const root = "../.."

type fixture struct {
	Situation string `json:"situation"`
	Expect    struct {
		Kstatus string `json:"kstatus"`
		ArgoCD  string `json:"argocd"`
		Flux    string `json:"flux"`
	} `json:"expect"`
	Object json.RawMessage `json:"object"`
}

func loadFixtures(t *testing.T) map[string]fixture {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata (%v)", err)
	}
	out := map[string]fixture{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var fx fixture
		if err := json.Unmarshal(b, &fx); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = fx
	}
	return out
}

func object(t *testing.T, raw json.RawMessage) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	return u
}

// ---------------------------------------------------------------------------
// kstatus

func kstatusVerdict(u *unstructured.Unstructured) (string, string, error) {
	res, err := status.Compute(u)
	if err != nil {
		return "", "", err
	}
	return res.Status.String(), res.Message, nil
}

// ---------------------------------------------------------------------------
// Argo CD

// decodeValue is how Argo CD's util/lua hands an unstructured object to Lua.
func decodeValue(l *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case []interface{}:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]interface{}:
		tbl := l.CreateTable(0, len(v))
		for k, item := range v {
			tbl.RawSetH(lua.LString(k), decodeValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}

var argoHealthCodes = map[string]bool{"Unknown": true, "Progressing": true, "Healthy": true, "Suspended": true, "Degraded": true, "Missing": true}

func argoVerdict(script string, u *unstructured.Unstructured) (string, string, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.fn), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return "", "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1e9)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decodeValue(l, u.Object))
	if err := l.DoString(script); err != nil {
		return "", "", err
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("health.lua returned %s, not a table", l.Get(-1).Type())
	}
	st := lua.LVAsString(ret.RawGetString("status"))
	if !argoHealthCodes[st] {
		return "Unknown", "Lua returned an invalid health status", nil
	}
	return st, lua.LVAsString(ret.RawGetString("message")), nil
}

// ---------------------------------------------------------------------------
// Flux

type healthCheckExpr struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	InProgress string `yaml:"inProgress"`
	Failed     string `yaml:"failed"`
	Current    string `yaml:"current"`
}

// program parses an expression in the environment fluxcd/pkg/runtime/cel's NewExpression builds (parsed, not compiled).
func program(expr string) (cel.Program, error) {
	env, err := cel.NewEnv(
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
		ext.Encoders(),
	)
	if err != nil {
		return nil, err
	}
	ast, iss := env.Parse(expr)
	if iss != nil && iss.Err() != nil {
		return nil, iss.Err()
	}
	return env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.InterruptCheckFrequency(100))
}

func fluxVerdict(e healthCheckExpr, u *unstructured.Unstructured) (string, error) {
	obj := u.UnstructuredContent()
	if og, ok, err := unstructured.NestedInt64(obj, "status", "observedGeneration"); err != nil {
		return "", err
	} else if ok {
		if g, ok, err := unstructured.NestedInt64(obj, "metadata", "generation"); err != nil {
			return "", err
		} else if ok && og != g {
			return "InProgress", nil
		}
	}
	for _, step := range []struct{ expr, verdict string }{{e.InProgress, "InProgress"}, {e.Failed, "Failed"}, {e.Current, "Current"}} {
		if step.expr == "" {
			continue
		}
		prg, err := program(step.expr)
		if err != nil {
			return "", fmt.Errorf("%s: %w", step.verdict, err)
		}
		val, _, err := prg.ContextEval(context.Background(), obj)
		if err != nil {
			return "", fmt.Errorf("%s: %w", step.verdict, err)
		}
		b, ok := val.(types.Bool)
		if !ok {
			return "", fmt.Errorf("%s: not a boolean", step.verdict)
		}
		if bool(b) {
			return step.verdict, nil
		}
	}
	return "InProgress", nil
}

// ---------------------------------------------------------------------------

func TestContract(t *testing.T) {
	luaScript, err := os.ReadFile(filepath.Join(root, "config/integrations/argocd/health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	exprsYAML, err := os.ReadFile(filepath.Join(root, "config/integrations/flux/health-check-exprs.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var exprs []healthCheckExpr
	if err := yaml.Unmarshal(exprsYAML, &exprs); err != nil || len(exprs) != 1 || exprs[0].Kind != "MeshRevision" {
		t.Fatalf("health-check-exprs.yaml: want one MeshRevision entry, got %v (%v)", exprs, err)
	}
	fixtures := loadFixtures(t)
	names := make([]string, 0, len(fixtures))
	for n := range fixtures {
		names = append(names, n)
	}
	sort.Strings(names)

	matched := 0
	fmt.Printf("%-24s %-12s %-12s %-12s  %s\n", "row", "kstatus", "argocd", "flux", "situation")
	for _, name := range names {
		fx := fixtures[name]
		u := object(t, fx.Object)
		ks, _, err := kstatusVerdict(u)
		if err != nil {
			t.Errorf("%s: kstatus: %v", name, err)
		}
		argo, argoMsg, err := argoVerdict(string(luaScript), u)
		if err != nil {
			t.Errorf("%s: argocd lua: %v", name, err)
		}
		flux, err := fluxVerdict(exprs[0], u)
		if err != nil {
			t.Errorf("%s: flux cel: %v", name, err)
		}
		mark := func(got, want string) string {
			if got == want {
				matched++
				return got
			}
			t.Errorf("%s (%s): got %q, want %q", name, fx.Situation, got, want)
			return got + "≠" + want
		}
		fmt.Printf("%-24s %-12s %-12s %-12s  %s\n", name, mark(ks, fx.Expect.Kstatus), mark(argo, fx.Expect.ArgoCD), mark(flux, fx.Expect.Flux), fx.Situation)
		if argo != "" && argoMsg == "" {
			t.Errorf("%s: Argo CD health carries no message", name)
		}
	}
	fmt.Printf("%d rows × {kstatus, Argo CD Lua, Flux CEL}: %d/%d verdicts match the contract\n", len(names), matched, 3*len(names))
}

// TestCapturedFromTheOperator judges MeshRevisions the real operator wrote on
// the local cluster during the e2e tests (test/support/contract.ts writes them
// to $MESHREV_CONTRACT_CAPTURE, default ../../.test-results/contract), each
// against the verdicts of the testdata row of the same name. Skipped when the
// e2e tests have not run.
func TestCapturedFromTheOperator(t *testing.T) {
	dir := os.Getenv("MESHREV_CONTRACT_CAPTURE")
	if dir == "" {
		dir = filepath.Join(root, ".test-results", "contract")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Skipf("no MeshRevisions captured by the e2e tests in %s", dir)
	}
	luaScript, err := os.ReadFile(filepath.Join(root, "config/integrations/argocd/health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	exprsYAML, err := os.ReadFile(filepath.Join(root, "config/integrations/flux/health-check-exprs.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var exprs []healthCheckExpr
	if err := yaml.Unmarshal(exprsYAML, &exprs); err != nil || len(exprs) != 1 {
		t.Fatalf("health-check-exprs.yaml: %v", err)
	}
	expected := loadFixtures(t)
	sort.Strings(files)
	matched := 0
	fmt.Printf("captured from the operator in %s:\n%-24s %-12s %-12s %-12s  %s\n", dir, "row", "kstatus", "argocd", "flux", "phase / Ready reason")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		want, ok := expected[name]
		if !ok {
			t.Errorf("%s: no contract row %s in testdata", f, name)
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var captured struct {
			Object json.RawMessage `json:"object"`
		}
		if err := json.Unmarshal(b, &captured); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		u := object(t, captured.Object)
		ks, _, err := kstatusVerdict(u)
		if err != nil {
			t.Errorf("%s: kstatus: %v", name, err)
		}
		argo, _, err := argoVerdict(string(luaScript), u)
		if err != nil {
			t.Errorf("%s: argocd lua: %v", name, err)
		}
		flux, err := fluxVerdict(exprs[0], u)
		if err != nil {
			t.Errorf("%s: flux cel: %v", name, err)
		}
		mark := func(got, wantV string) string {
			if got == wantV {
				matched++
				return got
			}
			t.Errorf("%s (captured): got %q, want %q", name, got, wantV)
			return got + "≠" + wantV
		}
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		reason := ""
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]interface{}); ok && m["type"] == "Ready" {
				reason = fmt.Sprint(m["reason"])
			}
		}
		fmt.Printf("%-24s %-12s %-12s %-12s  %s / %s\n", name, mark(ks, want.Expect.Kstatus), mark(argo, want.Expect.ArgoCD), mark(flux, want.Expect.Flux), phase, reason)
	}
	fmt.Printf("%d rows captured from the operator × {kstatus, Argo CD Lua, Flux CEL}: %d/%d verdicts match the contract\n", len(files), matched, 3*len(files))
	captured := map[string]bool{}
	for _, f := range files {
		captured[strings.TrimSuffix(filepath.Base(f), ".json")] = true
	}
	var missing []string
	for name := range expected {
		if !captured[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	fmt.Printf("%d of %d contract rows captured from the operator; not captured: %s\n", len(captured), len(expected), strings.Join(missing, ", "))
	// make test sets the floor the issue asks for (12) after the whole e2e suite ran; a single e2e file captures fewer.
	if min, err := strconv.Atoi(os.Getenv("MESHREV_CONTRACT_MIN_CAPTURED")); err == nil && len(captured) < min {
		t.Errorf("only %d contract rows were captured from the operator; want at least %d (MESHREV_CONTRACT_MIN_CAPTURED)", len(captured), min)
	}
}
