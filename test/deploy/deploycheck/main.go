// deploycheck: offline checks of ztauthz's deployment manifests that a JSON
// schema cannot express, made with the upstream projects' own code rather
// than a re-implementation:
//
//	deploycheck psa [-level restricted] [-version latest] FILE...
//	    Pod Security Standards, with k8s.io/pod-security-admission/policy (the
//	    library the PodSecurity admission plugin runs). Every pod template
//	    (Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
//	    ReplicationController) is evaluated at the level; every Namespace must
//	    carry pod-security.kubernetes.io labels that parse (as admission parses
//	    them) and enforce at least that level.
//
//	deploycheck meshconfig FILE...
//	    Istio MeshConfig, as istioctl validates an IstioOperator: the
//	    document is decoded strictly into Istio's IstioOperator type, its
//	    spec.meshConfig applied over Istio's defaults with
//	    istio.io/istio/pkg/config/mesh (unknown fields are errors, as in
//	    istiod) and checked with istio.io/istio/pkg/config/validation/agent.
//	    A ConfigMap named "istio" (data.mesh) is accepted as well.
//
// FILE "-" is standard input. Findings go to stdout, one per line, as
// "FILE: Kind namespace/name: what"; the exit status is 1 when there is any,
// 2 on usage or read errors.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	istioapis "istio.io/istio/operator/pkg/apis"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/validation/agent"
	istiolog "istio.io/istio/pkg/log"
	"istio.io/istio/pkg/util/protomarshal"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

type doc struct {
	file string
	raw  []byte
	meta struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata"`
	}
}

func (d *doc) String() string {
	name := d.meta.Name
	if d.meta.Namespace != "" {
		name = d.meta.Namespace + "/" + name
	}
	return fmt.Sprintf("%s: %s %s", d.file, d.meta.Kind, name)
}

func readDocs(files []string) ([]*doc, error) {
	var out []*doc
	for _, file := range files {
		var r io.Reader
		if file == "-" {
			r = os.Stdin
		} else {
			f, err := os.Open(file)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			r = f
		}
		yr := k8syaml.NewYAMLReader(bufio.NewReader(r))
		for {
			raw, err := yr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if len(bytes.TrimSpace(stripComments(raw))) == 0 {
				continue
			}
			d := &doc{file: file, raw: raw}
			if err := yaml.Unmarshal(raw, &d.meta); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			out = append(out, d)
		}
	}
	return out, nil
}

func stripComments(b []byte) []byte {
	var keep [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' && !bytes.Equal(t, []byte("---")) {
			keep = append(keep, line)
		}
	}
	return bytes.Join(keep, []byte("\n"))
}

// podTemplate returns the pod metadata and spec a workload creates, or ok
// false for kinds that create no pods.
func podTemplate(d *doc) (meta *metav1.ObjectMeta, spec *corev1.PodSpec, ok bool, err error) {
	var tpl *corev1.PodTemplateSpec
	switch d.meta.Kind {
	case "Pod":
		var o corev1.Pod
		if err = yaml.Unmarshal(d.raw, &o); err != nil {
			return
		}
		return &o.ObjectMeta, &o.Spec, true, nil
	case "Deployment":
		var o appsv1.Deployment
		err = yaml.Unmarshal(d.raw, &o)
		tpl = &o.Spec.Template
	case "ReplicaSet":
		var o appsv1.ReplicaSet
		err = yaml.Unmarshal(d.raw, &o)
		tpl = &o.Spec.Template
	case "StatefulSet":
		var o appsv1.StatefulSet
		err = yaml.Unmarshal(d.raw, &o)
		tpl = &o.Spec.Template
	case "DaemonSet":
		var o appsv1.DaemonSet
		err = yaml.Unmarshal(d.raw, &o)
		tpl = &o.Spec.Template
	case "Job":
		var o batchv1.Job
		err = yaml.Unmarshal(d.raw, &o)
		tpl = &o.Spec.Template
	case "CronJob":
		var o batchv1.CronJob
		err = yaml.Unmarshal(d.raw, &o)
		tpl = &o.Spec.JobTemplate.Spec.Template
	case "ReplicationController":
		var o corev1.ReplicationController
		err = yaml.Unmarshal(d.raw, &o)
		tpl = o.Spec.Template
	default:
		return nil, nil, false, nil
	}
	if err != nil || tpl == nil {
		return nil, nil, err == nil, err
	}
	return &tpl.ObjectMeta, &tpl.Spec, true, nil
}

func runPSA(args []string) int {
	fs := flag.NewFlagSet("psa", flag.ContinueOnError)
	levelFlag := fs.String("level", "restricted", "Pod Security Standard: privileged, baseline or restricted")
	versionFlag := fs.String("version", "latest", `policy version ("latest" or "v1.NN")`)
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: deploycheck psa [-level L] [-version V] FILE...")
		return 2
	}
	level, err := psaapi.ParseLevel(*levelFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploycheck:", err)
		return 2
	}
	version, err := psaapi.ParseVersion(*versionFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploycheck:", err)
		return 2
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploycheck:", err)
		return 2
	}
	docs, err := readDocs(fs.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploycheck:", err)
		return 2
	}
	lv := psaapi.LevelVersion{Level: level, Version: version}
	findings, pods := 0, 0
	for _, d := range docs {
		if d.meta.Kind == "Namespace" {
			p, errs := psaapi.PolicyToEvaluate(d.meta.Labels, psaapi.Policy{
				Enforce: psaapi.LevelVersion{Level: psaapi.LevelPrivileged, Version: psaapi.LatestVersion()},
				Audit:   psaapi.LevelVersion{Level: psaapi.LevelPrivileged, Version: psaapi.LatestVersion()},
				Warn:    psaapi.LevelVersion{Level: psaapi.LevelPrivileged, Version: psaapi.LatestVersion()},
			})
			if len(errs) > 0 {
				fmt.Printf("%s: invalid pod-security labels: %v\n", d, errs.ToAggregate())
				findings++
			} else if psaapi.CompareLevels(p.Enforce.Level, level) < 0 {
				fmt.Printf("%s: enforces PodSecurity %q, not %q (label %s)\n", d, p.Enforce.String(), level, psaapi.EnforceLevelLabel)
				findings++
			}
			continue
		}
		meta, spec, ok, err := podTemplate(d)
		if err != nil {
			fmt.Printf("%s: cannot decode: %v\n", d, err)
			findings++
			continue
		}
		if !ok {
			continue
		}
		pods++
		res := policy.AggregateCheckResults(evaluator.EvaluatePod(lv, meta, spec))
		if !res.Allowed {
			// The admission plugin's own wording.
			fmt.Printf("%s: violates PodSecurity %q: %s\n", d, lv.String(), res.ForbiddenDetail())
			findings++
		}
	}
	fmt.Fprintf(os.Stderr, "deploycheck psa: %d documents, %d pod templates, %d findings\n", len(docs), pods, findings)
	if findings > 0 {
		return 1
	}
	return 0
}

func runMeshConfig(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: deploycheck meshconfig FILE...")
		return 2
	}
	docs, err := readDocs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploycheck:", err)
		return 2
	}
	findings, checked := 0, 0
	for _, d := range docs {
		var meshYAML string
		switch {
		case d.meta.Kind == "IstioOperator":
			var iop istioapis.IstioOperator
			if err := yaml.UnmarshalStrict(d.raw, &iop); err != nil {
				fmt.Printf("%s: not a valid IstioOperator: %v\n", d, err)
				findings++
				continue
			}
			if len(iop.Spec.MeshConfig) == 0 {
				fmt.Printf("%s: has no spec.meshConfig\n", d)
				findings++
				continue
			}
			y, err := yaml.JSONToYAML(iop.Spec.MeshConfig)
			if err != nil {
				fmt.Printf("%s: %v\n", d, err)
				findings++
				continue
			}
			meshYAML = string(y)
		case d.meta.Kind == "ConfigMap" && d.meta.Name == "istio":
			var cm corev1.ConfigMap
			if err := yaml.UnmarshalStrict(d.raw, &cm); err != nil {
				fmt.Printf("%s: %v\n", d, err)
				findings++
				continue
			}
			meshYAML = cm.Data["mesh"]
		default:
			continue
		}
		checked++
		// istiod ignores fields it does not know (forward compatibility), so a
		// misspelt key would silently be a default: decode strictly first.
		if err := protomarshal.ApplyYAMLStrict(meshYAML, &meshv1alpha1.MeshConfig{}); err != nil {
			fmt.Printf("%s: meshConfig: %s\n", d, oneLine(err))
			findings++
			continue
		}
		mc, err := mesh.ApplyMeshConfigDefaults(meshYAML)
		if err != nil {
			fmt.Printf("%s: meshConfig: %s\n", d, oneLine(err))
			findings++
			continue
		}
		warnings, err := agent.ValidateMeshConfig(mc)
		if err != nil {
			fmt.Printf("%s: meshConfig: %s\n", d, oneLine(err))
			findings++
		}
		if warnings != nil {
			fmt.Fprintf(os.Stderr, "%s: meshConfig warning: %s\n", d, oneLine(warnings))
		}
		// istiod only warns about an invalid extension provider (it matters
		// once a policy uses it); the ext_authz providers here are shipped to
		// be used, so they must be valid.
		for _, p := range mc.GetExtensionProviders() {
			var perr error
			switch {
			case p.GetEnvoyExtAuthzGrpc() != nil:
				perr = agent.ValidateExtensionProviderEnvoyExtAuthzGRPC(p.GetEnvoyExtAuthzGrpc())
			case p.GetEnvoyExtAuthzHttp() != nil:
				perr = agent.ValidateExtensionProviderEnvoyExtAuthzHTTP(p.GetEnvoyExtAuthzHttp())
			}
			if perr != nil {
				fmt.Printf("%s: meshConfig: extension provider %s: %s\n", d, p.GetName(), oneLine(perr))
				findings++
			}
		}
	}
	fmt.Fprintf(os.Stderr, "deploycheck meshconfig: %d documents, %d mesh configs, %d findings\n", len(docs), checked, findings)
	if findings > 0 {
		return 1
	}
	if checked == 0 {
		fmt.Println("no IstioOperator or istio ConfigMap found")
		return 1
	}
	return 0
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: deploycheck psa|meshconfig ...")
		os.Exit(2)
	}
	// Istio's packages log to stdout; findings own stdout.
	logOpts := istiolog.DefaultOptions()
	logOpts.OutputPaths = []string{"stderr"}
	logOpts.ErrorOutputPaths = []string{"stderr"}
	_ = istiolog.Configure(logOpts)
	switch os.Args[1] {
	case "psa":
		os.Exit(runPSA(os.Args[2:]))
	case "meshconfig":
		os.Exit(runMeshConfig(os.Args[2:]))
	default:
		fmt.Fprintln(os.Stderr, "usage: deploycheck psa|meshconfig ...")
		os.Exit(2)
	}
}
